"""Prometheus metrics of the Rasa process, collected from the conversation events.

Rasa hands every event a turn writes to the tracker store's event broker (the redacted
copies: bot/tracker_store.py). :class:`MetricsBroker` is such a broker (endpoints.yml
``event_broker: type: bot.ops_metrics.MetricsBroker``, rendered by bot/endpoints_config.py)
that keeps counters instead of sending anything anywhere, so no channel module changes:

* ``assistant_turns_total{channel}``: user messages handled;
* ``assistant_turn_seconds{channel}``: from the user message's timestamp to the moment the
  turn's events are saved (NLU, policies, actions, tracker read; the channel's own send is
  not included), a histogram;
* ``assistant_fallbacks_total{channel}``: turns that ended in a fallback (NLU fallback or
  ``action_default_fallback``);
* ``assistant_handoffs_total{channel}``: turns that asked for an operator (actions and
  responses whose name says ``handoff`` or ``operatore``);
* ``assistant_errors_total{channel}``: error records logged by Rasa or our code
  (:class:`ErrorCounter`, a logging handler; ``channel`` is the channel of the turn being
  handled when known, else ``-``);
* ``assistant_action_timeouts_total``: action-server calls cut by the time-out.

The exposition (text format 0.0.4) is written here rather than with prometheus_client: a
dozen lines, no new dependency in Rasa's pinned environment. bot/channels/ops.py serves it
at ``GET /webhooks/ops/metrics``. Each Rasa process counts its own turns: with several
replicas, scrape each one (scripts/run.sh prints their ports), not the load balancer.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

BUCKETS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3.0, 6.0, 12.0, float("inf"))
HANDOFF_WORDS = ("handoff", "operatore")
FALLBACK_ACTIONS = frozenset({"action_default_fallback", "action_two_stage_fallback"})
FALLBACK_INTENTS = frozenset({"nlu_fallback"})

current_channel: contextvars.ContextVar[str] = contextvars.ContextVar("channel", default="-")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{key}="{str(value).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for key, value in sorted(labels.items()))
    return "{" + inner + "}"


class Registry:
    """Counters and histograms with labels; thread-safe; text exposition."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
        self._histograms: dict[str, dict[tuple[tuple[str, str], ...], list[float]]] = {}

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)
        (self._counters if kind == "counter" else self._histograms).setdefault(name, {})

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._counters.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def observe(self, name: str, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        with self._lock:
            series = self._histograms.setdefault(name, {})
            counts = series.setdefault(key, [0.0] * (len(BUCKETS) + 1))  # buckets + sum
            for index, bound in enumerate(BUCKETS):
                if value <= bound:
                    counts[index] += 1
            counts[-1] += value

    def value(self, name: str, **labels: str) -> float:
        with self._lock:
            return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def count(self, name: str, **labels: str) -> float:
        with self._lock:
            counts = self._histograms.get(name, {}).get(tuple(sorted(labels.items())))
            return counts[len(BUCKETS) - 1] if counts else 0.0

    def exposition(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self._counters.items()):
                kind, text = self._help.get(name, ("counter", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} counter"]
                lines += [f"{name}{_labels(dict(key))} {value:g}"
                          for key, value in sorted(series.items())]
            for name, series in sorted(self._histograms.items()):
                kind, text = self._help.get(name, ("histogram", name))
                lines += [f"# HELP {name} {text}", f"# TYPE {name} histogram"]
                for key, counts in sorted(series.items()):
                    labels = dict(key)
                    for index, bound in enumerate(BUCKETS):
                        le = "+Inf" if bound == float("inf") else f"{bound:g}"
                        lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} "
                                     f"{counts[index]:g}")
                    lines.append(f"{name}_sum{_labels(labels)} {counts[-1]:.6f}")
                    lines.append(f"{name}_count{_labels(labels)} {counts[len(BUCKETS) - 1]:g}")
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
REGISTRY.describe("assistant_turns_total", "counter", "User messages handled, per channel.")
REGISTRY.describe("assistant_fallbacks_total", "counter", "Turns answered by a fallback.")
REGISTRY.describe("assistant_handoffs_total", "counter", "Turns that asked for an operator.")
REGISTRY.describe("assistant_errors_total", "counter", "Error log records, per channel.")
REGISTRY.describe("assistant_action_timeouts_total", "counter",
                  "Action-server calls cut by ACTION_TIMEOUT_SECONDS.")
REGISTRY.describe("assistant_turn_seconds", "histogram",
                  "Seconds from the user message to the saved turn, per channel.")


def record_events(events: Iterable[Mapping[str, Any]], registry: Registry = REGISTRY,
                  now: float | None = None) -> None:
    """Count one save's events (Rasa's serialised events, in order)."""
    now = time.time() if now is None else now
    channel = "-"
    for event in events:
        kind = event.get("event")
        if kind == "user":
            channel = str(event.get("input_channel") or "-")
            registry.inc("assistant_turns_total", channel=channel)
            timestamp = event.get("timestamp")
            if isinstance(timestamp, (int, float)) and 0 <= now - timestamp < 3600:
                registry.observe("assistant_turn_seconds", now - timestamp, channel=channel)
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in FALLBACK_INTENTS:
                registry.inc("assistant_fallbacks_total", channel=channel)
        elif kind == "action":
            name = str(event.get("name") or "")
            if name in FALLBACK_ACTIONS:
                registry.inc("assistant_fallbacks_total", channel=channel)
            if any(word in name for word in HANDOFF_WORDS):
                registry.inc("assistant_handoffs_total", channel=channel)


class MetricsBroker(EventBroker):
    """An event broker that only counts (module docstring)."""

    def __init__(self, registry: Registry = REGISTRY) -> None:
        self.registry = registry
        self._pending: list[dict[str, Any]] = []

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig | None,
                                   event_loop: Any = None) -> MetricsBroker:
        return cls()

    def publish(self, event: dict[str, Any]) -> None:
        # The tracker store publishes a save's events one by one: a user event opens a turn.
        if event.get("event") == "user":
            self.flush()
        self._pending.append(event)
        if event.get("event") == "action" and event.get("name") == "action_listen":
            self.flush()

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            record_events(pending, self.registry)

    def is_ready(self) -> bool:
        return True

    async def close(self) -> None:
        self.flush()


class ErrorCounter(logging.Handler):
    """Counts ERROR records (and worse) for ``assistant_errors_total``."""

    def __init__(self, registry: Registry = REGISTRY) -> None:
        super().__init__(level=logging.ERROR)
        self.registry = registry

    def emit(self, record: logging.LogRecord) -> None:
        self.registry.inc("assistant_errors_total", channel=current_channel.get())


def install_error_counter(registry: Registry = REGISTRY) -> None:
    root = logging.getLogger()
    if not any(isinstance(handler, ErrorCounter) for handler in root.handlers):
        root.addHandler(ErrorCounter(registry))
