"""The real process: ``python -m backend_stub`` serves HTTP, creates and seeds its database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_module_serves_http(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "BACKEND_PORT": str(port),
        "BACKEND_API_KEY": "server-key",
        "BACKEND_DATABASE_URL": f"sqlite:///{tmp_path / 'nested' / 'backend.sqlite3'}",
        "SMS_MODE": "console",
        "SMS_OUTBOX_PATH": str(tmp_path / "outbox.jsonl"),
    }
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend_stub"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        headers = {"X-Api-Key": "server-key"}
        assert httpx.get(f"{base}/v1/customers/1", headers=headers).json()["name"] == "Mario Rossi"
        assert httpx.get(f"{base}/v1/customers/1").status_code == 401
        assert "/v1/customers/{customer_id}/payment-requests" in httpx.get(f"{base}/openapi.json").json()["paths"]
        otp = httpx.post(f"{base}/v1/customers/7/otp-challenges", json={"purpose": "step_up"}, headers=headers)
        assert otp.status_code == 201
        assert (tmp_path / "nested" / "backend.sqlite3").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)
    log_text = log_path.read_text()
    assert "GET /v1/customers/1 -> 200" in log_text
    assert "+39 *** *** 1234" in log_text
    code = (tmp_path / "outbox.jsonl").read_text().split("OTP e' ")[1][:5]
    assert code.isdigit() and code not in log_text
