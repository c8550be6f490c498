"""Latency and memory of the running assistant, measured through the REST channel.

Starts the action server and the Rasa server (as the e2e tests do), sends a fixed list of
Italian questions for both brands, and prints start-up time, reply latency (median, p95)
and resident memory of each process.

    .venv/bin/python scripts/benchmark_server.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.stack import child_pids, running_stack  # noqa: E402

QUESTIONS = [
    "ciao",
    "non mi arriva il codice per sms",
    "come cambio il recapito dispositivo?",
    "quali metodi di pagamento accettate",
    "voglio parlare con un operatore",
    "che tempo fa a roma?",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp, running_stack(Path(tmp)) as stack:
        startup = time.monotonic() - started
        latencies = []
        for _ in range(args.rounds):
            for brand in ("alleanza", "cavita"):
                sender = f"bench-{uuid.uuid4().hex[:8]}"
                for question in QUESTIONS:
                    body = {"sender": sender, "message": question, "metadata": {"brand": brand}}
                    t0 = time.perf_counter()
                    reply = requests.post(f"{stack.url}/webhooks/rest/webhook", json=body,
                                          timeout=60)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    reply.raise_for_status()
        memory = {pid: rss_mb(pid) for pid in child_pids(stack.process.pid)}
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                    for pid in memory}
    latencies.sort()
    print(f"start-up until both servers answer: {startup:.1f} s")
    print(f"messages: {len(latencies)}  latency median {statistics.median(latencies):.0f} ms, "
          f"p95 {latencies[int(0.95 * len(latencies)) - 1]:.0f} ms, max {latencies[-1]:.0f} ms")
    for pid, mb in memory.items():
        print(f"resident memory {mb:6.0f} MB  {commands[pid].decode()[:90]}")


if __name__ == "__main__":
    main()
