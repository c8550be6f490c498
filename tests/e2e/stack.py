"""Starts the stack exactly as `make run` does (scripts/run.sh), on free ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from tests.conftest import ROOT

MODEL = ROOT / "models" / "area-clienti.tar.gz"
STARTUP_SECONDS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def child_pids(pid: int) -> list[int]:
    """The processes run.sh started (its direct children)."""
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return [int(p) for p in out.split()]


@dataclass
class Stack:
    url: str  # the Rasa server's base URL
    process: subprocess.Popen  # scripts/run.sh
    ports: dict[str, int]
    log: Path

    def stop(self, timeout: float = 90) -> int:
        """Ctrl-C, as a person would; returns run.sh's exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"run.sh exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} not up after {STARTUP_SECONDS}s:\n{log.read_text()[-3000:]}")


def _like_a_terminal() -> None:
    """Let run.sh see Ctrl-C as in a terminal even when the test runner was started in the
    background (which leaves SIGINT ignored, and bash cannot trap an ignored signal)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def running_stack(
    workdir: Path, default_brand: str = "alleanza", extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """Start scripts/run.sh, yield once every server answers, Ctrl-C it afterwards."""
    if not MODEL.exists():
        raise FileNotFoundError(f"{MODEL} missing: run 'make setup' first")
    ports = {"rasa": free_port(), "actions": free_port(), "backend": free_port()}
    env = {
        **os.environ,
        "ASSISTANT_DEFAULT_BRAND": default_brand,
        "RASA_PORT": str(ports["rasa"]),
        "ACTIONS_PORT": str(ports["actions"]),
        "BACKEND_PORT": str(ports["backend"]),
        "BACKEND_DATABASE_URL": f"sqlite:///{workdir}/backend.sqlite3",
        "SMS_OUTBOX_PATH": str(workdir / "sms_outbox.jsonl"),
        "RASA_TRACKER_DB": str(workdir / "tracker.sqlite3"),
        "CHANNEL_STATE_DB": str(workdir / "channel_state.sqlite3"),
        **(extra_env or {}),
    }
    log = workdir / "run.log"
    process = subprocess.Popen(["bash", str(ROOT / "scripts" / "run.sh")], cwd=ROOT, env=env,
                               stdout=log.open("w"), stderr=subprocess.STDOUT,
                               start_new_session=True, preexec_fn=_like_a_terminal)
    stack = Stack(f"http://127.0.0.1:{ports['rasa']}", process, ports, log)
    try:
        wait_until_up(f"{stack.url}/webhooks/rest/", process, log)
        wait_until_up(f"http://127.0.0.1:{ports['actions']}/health", process, log)
        yield stack
    finally:
        stack.stop()
