"""Where a turn's time goes: the Rasa agent in process, timed part by part.

Loads models/area-clienti.tar.gz into an Agent with the project's tracker store (SQLite in a
temporary directory, or ``--tracker-url`` for PostgreSQL) and a real action server (started
here), then handles new conversations of 5 FAQ turns as the channels do (the turn context
read of bot/channels/turn_context.py first, then ``agent.handle_message``) and prints the
milliseconds per turn spent in each part: NLU, each policy, tracker reads and writes
(redaction apart), action-server calls, session start, the lock store.

    .venv/bin/python scripts/profile_turn.py                 # Rasa's own action endpoint
    .venv/bin/python scripts/profile_turn.py --bounded       # bot/action_endpoint.py
    .venv/bin/python scripts/profile_turn.py --cprofile /tmp/turn.prof  # + cProfile's top 30
    .venv/bin/python scripts/profile_turn.py --compare       # before and after, same process

The timers wrap the classes' methods in this process only (nothing is changed on disk).
Several parts nest (the session start contains an action call, a save contains the
redaction): the table says which.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

from scripts.benchmark_load import FAQ_TURNS  # noqa: E402

TIMES: dict[str, list[float]] = defaultdict(list)


def timed(owner: Any, attribute: str, label: str) -> None:
    original = getattr(owner, attribute)
    if asyncio.iscoroutinefunction(original):
        @functools.wraps(original)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                TIMES[label].append((time.perf_counter() - started) * 1000)
    else:
        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                TIMES[label].append((time.perf_counter() - started) * 1000)
    setattr(owner, attribute, wrapper)


def instrument() -> None:
    from rasa.core import lock_store, processor
    from rasa.core.actions import action
    from rasa.core.policies.memoization import MemoizationPolicy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.core.policies.ted_policy import TEDPolicy

    import bot.tracker_store as store

    timed(processor.MessageProcessor, "parse_message", "nlu (parse_message)")
    timed(processor.MessageProcessor, "_update_tracker_session", "session start (total)")
    timed(processor.MessageProcessor, "predict_next_with_tracker_if_should",
          "policies (all, per prediction)")
    timed(processor.MessageProcessor, "handle_message", "handle_message (whole turn)")
    timed(MemoizationPolicy, "predict_action_probabilities", "  memoization")
    timed(RulePolicy, "predict_action_probabilities", "  rule")
    timed(TEDPolicy, "predict_action_probabilities", "  ted")
    timed(action.RemoteAction, "run", "action server call (RemoteAction.run)")
    timed(store.RedactingSQLTrackerStore, "_retrieve", "tracker read")
    timed(store.RedactingSQLTrackerStore, "save", "tracker write")
    timed(store, "redact_event", "  redaction (per event)")
    timed(lock_store.LockStore, "lock", "lock store (acquire)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def drive(agent: Any, conversations: int) -> list[float]:
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    from bot.channels.turn_context import read_turn

    turns = []
    for index in range(conversations):
        sender = f"rest:profile-{uuid.uuid4().hex[:10]}"
        brand = ("alleanza", "cavita")[index % 2]
        for text in FAQ_TURNS:
            started = time.perf_counter()
            text, context = await read_turn(agent, sender, text)
            metadata = {"brand": brand, **({"context": context} if context else {})}
            output = CollectingOutputChannel()
            await agent.handle_message(UserMessage(text, output, sender, input_channel="rest",
                                                   metadata=metadata))
            turns.append((time.perf_counter() - started) * 1000)
            if not output.messages:
                print(f"no answer to {text!r}", file=sys.stderr)
    return turns


async def main_async(args: argparse.Namespace) -> None:
    from rasa.core.agent import load_agent

    from bot import action_endpoint, endpoints_config

    tmp = Path(tempfile.mkdtemp())
    env = {**os.environ, "ACTIONS_PORT": str(args.actions_port),
           "RASA_TRACKER_DB": str(tmp / "tracker.sqlite3")}
    if args.tracker_url:
        env["RASA_TRACKER_URL"] = args.tracker_url
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    rendered = endpoints_config.render(env)
    import yaml

    path = tmp / "endpoints.yml"
    path.write_text(yaml.safe_dump(rendered))
    from rasa.core.utils import AvailableEndpoints

    endpoints = AvailableEndpoints.read_endpoints(str(path))
    if args.bounded:
        endpoints.action = action_endpoint.BoundedActionEndpoint.wrapping(endpoints.action)
    if args.speedups:
        from bot import rasa_speedups

        rasa_speedups.install()
    import logging

    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.INFO)  # rasa run's default level
    configure_structlog(logging.INFO)
    instrument()  # before loading: the graph binds the components' methods
    started = time.perf_counter()
    # As `rasa run` does: tracker store (with the event broker), lock store, action endpoint.
    agent = await load_agent(model_path=str(ROOT / "models" / "area-clienti.tar.gz"),
                             endpoints=endpoints)
    print(f"model loaded in {time.perf_counter() - started:.1f} s")
    await drive(agent, 2)  # warm-up: TensorFlow graphs, connections
    rounds = [("as configured", None)]
    if args.compare:
        rounds = [("Rasa's own", None), ("this branch", "install")]
    tables = []
    for name, step in rounds:
        if step == "install":
            action_endpoint.install(agent)
            from bot import rasa_speedups

            rasa_speedups.install()
            await drive(agent, 2)
        TIMES.clear()
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler:
            profiler.enable()
        turns = await drive(agent, args.conversations)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
        tables.append((name, turns, {k: list(v) for k, v in TIMES.items()}))
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"\n{args.conversations} new conversations of {len(FAQ_TURNS)} turns per round, in "
          f"process (no HTTP); load average {load} on {os.cpu_count()} cores")
    labels = list(dict.fromkeys(k for _, _, times in tables for k in times))
    header = "".join(f"{name + ' ms/turn':>24}" for name, _, _ in tables)
    print(f"{'part':<42}{'calls/turn':>11}{header}")
    for label in labels:
        row = ""
        calls = 0.0
        for _, turns, times in tables:
            values = times.get(label, [])
            calls = max(calls, len(values) / len(turns))
            row += f"{sum(values) / len(turns):>24.2f}"
        print(f"{label:<42}{calls:>11.2f}{row}")
    row = "".join(f"{statistics.median(turns):>24.1f}" for _, turns, _ in tables)
    print(f"{'turn median (read_turn + handle_message)':<42}{'':>11}{row}")
    row = "".join(f"{statistics.mean(turns):>24.1f}" for _, turns, _ in tables)
    print(f"{'turn mean':<42}{'':>11}{row}")
    if args.cprofile:
        print()
        pstats.Stats(args.cprofile).sort_stats("cumulative").print_stats(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--bounded", action="store_true",
                        help="bot/action_endpoint.py's endpoint (session start in process)")
    parser.add_argument("--compare", action="store_true",
                        help="two rounds in one process: Rasa's own endpoint and check, then "
                             "this branch's (bounded endpoint, session start in process, "
                             "schema check built once)")
    parser.add_argument("--speedups", action="store_true",
                        help="bot/rasa_speedups.py (what bot/channels/ops.py installs)")
    parser.add_argument("--tracker-url", help="PostgreSQL instead of SQLite")
    parser.add_argument("--redis-url", help="Redis lock store instead of in memory")
    parser.add_argument("--cprofile", help="write cProfile statistics here, print the top")
    args = parser.parse_args()
    args.actions_port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "actions.server", "--port", str(args.actions_port)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        asyncio.run(main_async(args))
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
