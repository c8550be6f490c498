"""Turns per second and latency under load, through the REST channel, bounded in count and time.

Starts each configuration with scripts/run.sh (on free loopback ports, as the e2e tests do),
drives new conversations of 5 FAQ turns each at 1, 8 and 32 concurrent conversations, and
prints turns/s and p50/p95/p99 per level, one row per configuration and level:

* ``single``: the stack ``make run`` starts (one Rasa process, SQLite tracker);
* ``baseline``: ``single`` without this branch's turn savings (``OPS_CHANNEL=0``: Rasa's
  own action endpoint and schema check; SQLite synced at every commit), for before/after;
* ``replicas=N``: N Rasa processes and 2 action servers behind HAProxy, PostgreSQL tracker
  and Redis lock store (a database of its own, dropped afterwards; tests/scale_out.py);
* ``default``: ``single`` with the model of Rasa's default pipeline on the same data
  (scripts/configs/rasa_default.yml; ``--default-model``, trained once by
  ``scripts/train_default_model.sh`` and cached under ~/.cache/area-clienti). Skipped, and
  said so, when that model is missing.

Each level stops after ``--conversations`` conversations or ``--max-seconds``, whichever
comes first (conversations under way finish). A turn that fails (HTTP error, time-out, no
reply) counts as an error, never in the latency.

    .venv/bin/python scripts/benchmark_load.py                       # single and default
    .venv/bin/python scripts/benchmark_load.py --setup single --setup replicas=2
    .venv/bin/python scripts/benchmark_load.py --url http://127.0.0.1:5005   # a running stack
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Five FAQ questions a visitor asks (answered by rules, no form, no backend).
FAQ_TURNS = [
    "ciao",
    "non mi arriva il codice per sms",
    "come cambio il recapito dispositivo?",
    "quali metodi di pagamento accettate",
    "come mi registro all'area clienti?",
]
LEVELS = (1, 8, 32)
DEFAULT_MODEL_CACHE = Path.home() / ".cache" / "area-clienti" / "default-pipeline"


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


async def conversation(session: aiohttp.ClientSession, url: str, brand: str,
                       latencies: list[float], errors: list[str], timeout: float) -> None:
    sender = f"load-{uuid.uuid4().hex[:12]}"
    for text in FAQ_TURNS:
        body = {"sender": sender, "message": text, "metadata": {"brand": brand}}
        started = time.perf_counter()
        try:
            async with session.post(f"{url}/webhooks/rest/webhook", json=body,
                                    timeout=aiohttp.ClientTimeout(total=timeout)) as reply:
                try:
                    answer = await reply.json(content_type=None)
                except ValueError:  # a load balancer's HTML error page
                    answer = None
                if reply.status != 200 or not answer:
                    errors.append(f"HTTP {reply.status}" if reply.status != 200 else "no reply")
                    continue
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            errors.append(type(exc).__name__)
            continue
        latencies.append((time.perf_counter() - started) * 1000)


async def run_level(url: str, concurrent: int, conversations: int, max_seconds: float,
                    timeout: float = 60) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + max_seconds
    counter = {"started": 0}

    async def worker(index: int, session: aiohttp.ClientSession) -> None:
        while counter["started"] < conversations and time.perf_counter() < deadline:
            counter["started"] += 1
            brand = ("alleanza", "cavita")[counter["started"] % 2]
            await conversation(session, url, brand, latencies, errors, timeout)

    connector = aiohttp.TCPConnector(limit=concurrent * 2)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(i, session) for i in range(concurrent)))
    elapsed = time.perf_counter() - started
    return {
        "concurrent": concurrent,
        "conversations": counter["started"],
        "turns": len(latencies),
        "errors": len(errors),
        "seconds": round(elapsed, 1),
        "turns_per_s": round(len(latencies) / elapsed, 2) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 0.50)),
        "p95_ms": round(percentile(latencies, 0.95)),
        "p99_ms": round(percentile(latencies, 0.99)),
    }


async def warm_up(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(2):
            await conversation(session, url, "alleanza", [], [], 120)


def measure(url: str, levels: tuple[int, ...], conversations: int | None,
            max_seconds: float) -> list[dict[str, Any]]:
    asyncio.run(warm_up(url))
    rows = []
    for level in levels:
        count = conversations or max(4, 3 * level)
        rows.append(asyncio.run(run_level(url, level, count, max_seconds)))
        print(f"  {level:>3} concurrent: {rows[-1]}", flush=True)
    return rows


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_setup(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from tests.e2e.stack import child_pids, running_stack

    env: dict[str, str] = {}
    with ExitStack() as stack:
        if name == "default":
            model = Path(args.default_model)
            if not model.exists():
                return {"setup": name, "skipped": f"no default-pipeline model at {model}"}
            env["RASA_MODEL"] = str(model)
        elif name.startswith("replicas="):
            from tests.scale_out import REDIS_URL, fresh_database_url

            env.update({
                "RASA_REPLICAS": name.split("=", 1)[1],
                "ACTIONS_REPLICAS": str(args.action_servers),
                "RASA_TRACKER_URL": stack.enter_context(fresh_database_url()),
                "REDIS_URL": REDIS_URL,
                "RASA_LOCK_REDIS_DB": "1",
                "REDIS_KEY_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
            })
        elif name == "baseline":
            # What this branch started from: Rasa's action endpoint (remote session start,
            # 5-minute time-out), its schema check, SQLite synced per commit, no ops channel.
            env.update({"OPS_CHANNEL": "0", "OPS_METRICS": "0", "RASA_SPEEDUPS": "0",
                        "SQLITE_SYNCHRONOUS": "FULL"})
        elif name != "single":
            raise SystemExit(f"unknown setup {name!r}")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.monotonic()
        running = stack.enter_context(running_stack(tmp, extra_env=env))
        startup = time.monotonic() - started
        print(f"{name}: up in {startup:.1f} s at {running.url}", flush=True)
        rows = measure(running.url, tuple(args.levels), args.conversations, args.max_seconds)
        memory = {}
        for pid in child_pids(running.process.pid):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            memory[f"{pid} {command[:60]}"] = round(rss_mb(pid))
        return {"setup": name, "startup_s": round(startup, 1), "levels": rows,
                "rss_mb": memory}


def print_table(results: list[dict[str, Any]], load: str) -> None:
    print()
    print(f"machine: {os.cpu_count()} cores; load average at the end: {load}")
    print(f"{'setup':<14}{'conc.':>6}{'turns':>7}{'err':>5}{'turns/s':>9}"
          f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}")
    for result in results:
        if "skipped" in result:
            print(f"{result['setup']:<14} skipped: {result['skipped']}")
            continue
        for row in result["levels"]:
            print(f"{result['setup']:<14}{row['concurrent']:>6}{row['turns']:>7}"
                  f"{row['errors']:>5}{row['turns_per_s']:>9.1f}{row['p50_ms']:>8}"
                  f"{row['p95_ms']:>8}{row['p99_ms']:>8}")
        if "startup_s" in result:
            rasa = [mb for name, mb in result["rss_mb"].items() if "rasa run" in name]
            print(f"{'':<14}start-up {result['startup_s']} s; Rasa resident "
                  f"{', '.join(f'{mb} MB' for mb in rasa)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setup", action="append",
                        help="single, baseline, replicas=N or default (repeatable; default: "
                             "single, default)")
    parser.add_argument("--url", help="measure this running stack instead")
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--conversations", type=int,
                        help="conversations per level (default 3 x concurrency, at least 4)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per level")
    parser.add_argument("--action-servers", type=int, default=2)
    parser.add_argument("--default-model",
                        default=str(DEFAULT_MODEL_CACHE / "rasa-default.tar.gz"))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    if args.url:
        results = [{"setup": "url", "levels": measure(args.url.rstrip("/"), tuple(args.levels),
                                                       args.conversations, args.max_seconds)}]
    else:
        results = [run_setup(name, args) for name in (args.setup or ["single", "default"])]
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print_table(results, load)
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
