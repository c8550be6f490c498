"""A conversation as an operator reads it: who said what, personal data masked.

Why pure functions over event dicts (``Event.as_dict()``, the action server's tracker
events): the console (Rasa process), the ticket summary (action server) and the tests read
the same transcript without a store. Texts go through the tracker store's own redaction
(bot/redaction.py), so the console shows e-mails, IBANs, fiscal codes, phone numbers and
typed codes masked as the staff page and the stored events show them.

Messages written by the handoff itself carry ``metadata.handoff``: ``"operator"`` (an
operator's message, with ``operator_id``) or ``"system"`` (queue, take, handback notices).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.redaction import redact_text

OPERATOR, SYSTEM = "operator", "system"
HANDOFF_KEY = "handoff"
SAID_KEY = "handoff_said"  # the customer's own words when a trigger rewrote the message
SUMMARY_MESSAGES = 12
SUMMARY_CHARS = 1800
WHO_LABELS = {"customer": "Cliente", "assistant": "Assistente", OPERATOR: "Operatore",
              SYSTEM: "Avviso"}


def _customer_text(event: Mapping[str, Any]) -> str:
    metadata = event.get("metadata") or {}
    said = metadata.get(SAID_KEY) if isinstance(metadata, Mapping) else None
    text = str(said or event.get("text") or "")
    if text.startswith("/"):  # a button: show what it meant, not the payload's syntax
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        return f"[pulsante: {intent or text[1:].split('{')[0]}]"
    return text


def entry(index: int, event: Mapping[str, Any]) -> dict[str, Any] | None:
    """One line of the transcript, or None for events that are not messages."""
    kind = event.get("event")
    if kind == "user":
        who, text = "customer", redact_text(_customer_text(event), codes=True)
    elif kind == "bot":
        metadata = event.get("metadata") or {}
        who = metadata.get(HANDOFF_KEY) if isinstance(metadata, Mapping) else None
        who = who if who in (OPERATOR, SYSTEM) else "assistant"
        text = redact_text(str(event.get("text") or ""))
        if not text and (event.get("data") or {}).get("custom"):
            text = "[contenuto interattivo]"
    else:
        return None
    if not text:
        return None
    return {"index": index, "who": who, "text": text, "ts": event.get("timestamp")}


def transcript(events: Sequence[Mapping[str, Any]], since: int = 0) -> list[dict[str, Any]]:
    """The messages of ``events`` from index ``since`` on (the console's polling cursor)."""
    lines = []
    for index in range(max(since, 0), len(events)):
        line = entry(index, events[index])
        if line is not None:
            lines.append(line)
    return lines


def summary(events: Sequence[Mapping[str, Any]], limit: int = SUMMARY_MESSAGES,
            max_chars: int = SUMMARY_CHARS) -> str:
    """The last messages as plain text for a ticket or callback request (masked)."""
    lines = [f"{WHO_LABELS[e['who']]}: {' '.join(e['text'].split())}"
             for e in transcript(events)[-limit:]]
    text = "Riepilogo della conversazione con l'assistente virtuale:\n" + "\n".join(lines)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


def last_customer_message_at(events: Sequence[Mapping[str, Any]]) -> float | None:
    """When the customer last wrote (epoch seconds): WhatsApp's 24-hour window starts there."""
    for event in reversed(events):
        if event.get("event") == "user" and event.get("timestamp"):
            return float(event["timestamp"])
    return None


def expected_wait_minutes(position: int, online: int, per_conversation: float) -> int:
    """A plain estimate: the conversations ahead and this one, shared among the operators."""
    return max(1, round(position * per_conversation / max(online, 1)))
