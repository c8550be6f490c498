"""Starts the real action server and Rasa server on free ports for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import requests

from tests.conftest import ROOT

VENV_BIN = ROOT / ".venv" / "bin"
MODEL = ROOT / "models" / "area-clienti.tar.gz"
STARTUP_SECONDS = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, processes: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"{log.name} exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} not up after {STARTUP_SECONDS}s")


@dataclass
class Stack:
    url: str  # the Rasa server's base URL
    processes: list[subprocess.Popen]  # action server, Rasa server


@contextmanager
def running_stack(workdir: Path, default_brand: str = "alleanza") -> Iterator[Stack]:
    """Start both servers, yield them once they answer, stop them afterwards."""
    if not MODEL.exists():
        raise FileNotFoundError(f"{MODEL} missing: run 'make setup' first")
    actions_port, rasa_port = free_port(), free_port()
    endpoints = workdir / "endpoints.yml"
    endpoints.write_text(
        f'action_endpoint:\n  url: "http://127.0.0.1:{actions_port}/webhook"\n'
        f'tracker_store:\n  type: SQL\n  dialect: "sqlite"\n  db: "{workdir}/tracker.sqlite3"\n'
    )
    env = {**os.environ, "ASSISTANT_DEFAULT_BRAND": default_brand,
           "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    commands = {
        "actions.log": [str(VENV_BIN / "rasa"), "run", "actions", "--actions", "actions",
                        "--port", str(actions_port)],
        "rasa.log": [str(VENV_BIN / "rasa"), "run", "--model", str(MODEL), "--endpoints",
                     str(endpoints), "--credentials", str(ROOT / "credentials.yml"),
                     "--port", str(rasa_port)],
    }
    processes, logs = [], []
    try:
        for name, command in commands.items():
            log = workdir / name
            logs.append(log)
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env,
                                              stdout=log.open("w"), stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{rasa_port}"
        wait_until_up(f"{base}/webhooks/rest/", processes, logs)
        wait_until_up(f"http://127.0.0.1:{actions_port}/health", processes, logs)
        yield Stack(base, processes)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
