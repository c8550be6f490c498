"""Fixtures for action tests: the real backend stub as a process on a free port."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKEND_PYTHON = ROOT / "backend_stub" / ".venv" / "bin" / "python"
TEST_API_KEY = "actions-test-backend-key"
START_TIMEOUT_SECONDS = 30
_CODE = re.compile(r"(?<!\d)\d{4,8}(?!\d)")  # the SMS also says "120 secondi"


def free_port() -> int:
    """A port nothing listens on right now (closed again before use)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RunningBackend:
    url: str
    api_key: str
    outbox: Path  # console SMS outbox: stands for the customers' handsets

    def sent_codes(self, phone: str) -> list[str]:
        """OTP codes texted to `phone`, oldest first (the 4+ digit number in each SMS)."""
        if not self.outbox.exists():
            return []
        records = [json.loads(line) for line in self.outbox.read_text().splitlines() if line]
        return [m.group() for r in records if r["to"] == phone and (m := _CODE.search(r["body"]))]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def running_backend(work: Path, **extra_env: str):
    """`python -m backend_stub` on a fresh SQLite file, seeded with the README's demo data."""
    if not BACKEND_PYTHON.exists():
        pytest.skip(
            "backend stub not set up (backend_stub/.venv missing): run backend_stub/setup.sh"
        )
    port = free_port()
    env = {
        **os.environ,
        "BACKEND_DATABASE_URL": f"sqlite:///{work / 'backend.sqlite3'}",
        "BACKEND_API_KEY": TEST_API_KEY,
        "SMS_MODE": "console",
        "SMS_OUTBOX_PATH": str(work / "sms_outbox.jsonl"),
        "BACKEND_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    log_path = work / "backend.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [str(BACKEND_PYTHON), "-m", "backend_stub", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log_path.read_text(errors="replace")[-2000:]
                pytest.fail(f"backend stub did not start on {url}:\n{tail}")
            time.sleep(0.1)
        yield RunningBackend(url=url, api_key=TEST_API_KEY, outbox=work / "sms_outbox.jsonl")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory):
    """One backend stub for the session (OTP cooldowns and caps carry across tests)."""
    with running_backend(tmp_path_factory.mktemp("backend")) as running:
        yield running


@pytest.fixture(scope="module")
def fresh_backend(tmp_path_factory: pytest.TempPathFactory):
    """A backend stub of the module's own: no OTP sent yet to anyone."""
    with running_backend(tmp_path_factory.mktemp("fresh-backend")) as running:
        yield running


OTP_TTL_SECONDS_FOR_EXPIRY_TESTS = 2


@pytest.fixture(scope="module")
def short_otp_backend(tmp_path_factory: pytest.TempPathFactory):
    """A backend stub whose codes expire after 2 s, to see real expiry end to end."""
    with running_backend(
        tmp_path_factory.mktemp("short-otp-backend"),
        BACKEND_OTP_TTL_SECONDS=str(OTP_TTL_SECONDS_FOR_EXPIRY_TESTS),
    ) as running:
        yield running


@pytest.fixture
def actions_on_short_otp_backend(monkeypatch, short_otp_backend):
    """The actions pointed at the backend whose codes expire in 2 s."""
    from identity import DEV_SECRETS

    for name in DEV_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKEND_URL", short_otp_backend.url)
    monkeypatch.setenv("BACKEND_API_KEY", short_otp_backend.api_key)
    return short_otp_backend


@pytest.fixture
def actions_on_fresh_backend(monkeypatch, fresh_backend):
    """Point the actions at the module's own backend stub, with the dev token secrets."""
    from identity import DEV_SECRETS

    for name in DEV_SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKEND_URL", fresh_backend.url)
    monkeypatch.setenv("BACKEND_API_KEY", fresh_backend.api_key)
    return fresh_backend
