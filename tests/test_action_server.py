"""The action server (actions/server.py): the real rasa_sdk app on a real port.

In-process for the requests (token, generic errors, /health), a subprocess for what only
the command line shows (refusing production, the development warning, the bind address).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import yaml
from rasa_sdk import Action
from rasa_sdk.interfaces import ActionExecutionRejection
from sanic import Sanic

from actions.server import (
    MIN_TOKEN_CHARS,
    UnsafeActionServer,
    build_app,
    check_startup,
)
from tests.conftest import ROOT

TOKEN = "t0k3n-" + "x" * 40
SECRETS_IN_BODY = ("mario.rossi@example.it", "RSSMRA80A01H501U", "IT60X0542811101000000123456")
GOOD_SECRETS = {
    "CUSTOMER_JWT_SECRET": "c" * 40,
    "STAFF_JWT_SECRET": "s" * 40,
    "CHANNEL_ASSERTION_SECRET": "w" * 40,
}


class _Boom(Action):
    """Fails with a slot value in its message, as careless code might."""

    def name(self) -> str:
        return "action_test_boom"

    async def run(self, dispatcher, tracker, domain):
        raise ValueError(f"cannot use {tracker.get_slot('support_email')}")


class _Reject(Action):
    def name(self) -> str:
        return "action_test_reject"

    async def run(self, dispatcher, tracker, domain):
        raise ActionExecutionRejection(self.name(), f"no {tracker.get_slot('sr_iban')}")


class _Ok(Action):
    def name(self) -> str:
        return "action_test_ok"

    async def run(self, dispatcher, tracker, domain):
        dispatcher.utter_message(text="ok")
        return []


def call(action: str) -> dict[str, Any]:
    """What Rasa posts to /webhook, with personal data in it."""
    return {
        "next_action": action,
        "sender_id": "whatsapp:+393331234567",
        "version": "3.6.21",
        "domain": {},
        "tracker": {
            "sender_id": "whatsapp:+393331234567",
            "slots": {"support_email": SECRETS_IN_BODY[0], "sr_iban": SECRETS_IN_BODY[2]},
            "latest_message": {"text": f"il mio codice fiscale è {SECRETS_IN_BODY[1]}",
                               "metadata": {"identity_token": "eyJhbGciOi.secret.token"}},
            "events": [],
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def _several_apps(monkeypatch):
    """rasa_sdk names every app "rasa_sdk"; Sanic allows that twice only in test mode."""
    monkeypatch.setattr(Sanic, "test_mode", True)


@contextlib.asynccontextmanager
async def serving(token: str | None) -> AsyncIterator[str]:
    """The app of actions/server.py listening on a free loopback port."""
    app = build_app(token)
    port = free_port()
    server = await app.create_server(
        host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False
    )
    await server.startup()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def fetch(method: str, url: str, **kwargs: Any) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session:
        async with session.request(method, url, **kwargs) as response:
            return response.status, await response.text(), dict(response.headers)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the shared token ------------------------------------------------------------------


def test_every_route_but_health_needs_the_token():
    async def scenario() -> None:
        async with serving(TOKEN) as url:
            for headers in ({}, bearer("wrong"), bearer(TOKEN[:-1]), {"Authorization": TOKEN},
                            bearer(TOKEN + "x"), {"X-Token": TOKEN}):
                for method, path, body in (("POST", "/webhook", call("action_test_ok")),
                                           ("GET", "/actions", None),
                                           ("OPTIONS", "/webhook", None),
                                           ("GET", "/nowhere", None)):
                    status, text, got = await fetch(method, url + path, json=body,
                                                    headers=headers)
                    assert (status, json.loads(text)) == (401, {"error": "unauthorized"}), (
                        method, path, headers)
                    assert got["WWW-Authenticate"] == "Bearer"
            status, text, _ = await fetch("GET", url + "/health")
            assert (status, json.loads(text)) == (200, {"status": "ok"})

            status, text, _ = await fetch("GET", url + "/actions", headers=bearer(TOKEN))
            assert status == 200 and {"name": "action_mostra_polizze"} in json.loads(text)
            status, text, _ = await fetch("POST", url + "/webhook", json=call("action_test_ok"),
                                          headers={"Authorization": f"bearer  {TOKEN} "})
            assert status == 200 and json.loads(text)["responses"][0]["text"] == "ok"

    asyncio.run(scenario())


def test_rasa_sends_the_token_the_rendered_endpoints_hold(tmp_path: Path):
    """Rasa's own EndpointConfig, read from bot/endpoints_config.py's output, gets in."""
    from rasa.utils.endpoints import ClientResponseError, read_endpoint_config

    from bot.endpoints_config import render

    async def scenario() -> None:
        async with serving(TOKEN) as url:
            port = url.rsplit(":", 1)[1]
            for token, expected in ((TOKEN, 200), (None, 401)):
                env = {"ACTIONS_PORT": port, **({"ACTION_SERVER_TOKEN": token} if token else {})}
                path = tmp_path / "endpoints.yml"
                path.write_text(yaml.safe_dump(render(env), default_style='"'))
                endpoint = read_endpoint_config(str(path), "action_endpoint")
                try:
                    result = await endpoint.request(json=call("action_test_ok"), method="post")
                    status = 200
                    assert result["responses"][0]["text"] == "ok"
                except ClientResponseError as exc:
                    status = exc.status
                assert status == expected

    asyncio.run(scenario())


def test_without_a_token_development_stays_open():
    async def scenario() -> None:
        async with serving(None) as url:
            status, _, _ = await fetch("POST", url + "/webhook", json=call("action_test_ok"))
            assert status == 200

    asyncio.run(scenario())


# --- errors say nothing about the request ----------------------------------------------


def test_a_failing_action_gets_a_generic_500_and_the_log_no_values(caplog):
    async def scenario() -> list[tuple[int, str]]:
        async with serving(TOKEN) as url:
            answers = []
            for body in (call("action_test_boom"), {"next_action": "action_test_ok",
                                                    "tracker": SECRETS_IN_BODY[0]}):
                status, text, _ = await fetch("POST", url + "/webhook", json=body,
                                              headers=bearer(TOKEN))
                answers.append((status, text))
            return answers

    with caplog.at_level(logging.DEBUG):
        answers = asyncio.run(scenario())
    for status, text in answers:
        assert (status, json.loads(text)) == (500, {"error": "internal_error"})
    assert "ValueError in action action_test_boom at" in caplog.text
    assert "test_action_server.py" in caplog.text  # where, for whoever fixes it
    for secret in (*SECRETS_IN_BODY, "393331234567", "secret.token", "cannot use"):
        assert secret not in caplog.text
        assert all(secret not in text for _, text in answers)


@pytest.mark.parametrize("body,status,expected", [
    (b'{"next_action": "action_test_ok", "tracker": {"slots": {"x": "mario.rossi@example.it"',
     400, {"error": "bad_request"}),
    (json.dumps(call("action_RSSMRA80A01H501U")).encode(), 404, {"error": "not_found"}),
    (json.dumps(call("action_test_reject")).encode(), 400,
     {"error": "action_rejected", "action_name": "action_test_reject"}),
    (b"null", 400, {"error": "bad_request"}),
], ids=["malformed-json", "unknown-action", "rejection", "null"])
def test_client_errors_are_generic_too(body: bytes, status: int, expected: dict):
    """A rejection keeps the action's name: Rasa reads it (ActionExecutionRejection)."""
    async def scenario() -> tuple[int, str]:
        async with serving(TOKEN) as url:
            code, text, _ = await fetch("POST", url + "/webhook", data=body,
                                        headers={**bearer(TOKEN),
                                                 "Content-Type": "application/json"})
            return code, text

    code, text = asyncio.run(scenario())
    assert (code, json.loads(text)) == (status, expected)
    for secret in (*SECRETS_IN_BODY, "no IT60"):
        assert secret not in text


# --- starting -------------------------------------------------------------------------


@pytest.mark.parametrize("env,problem", [
    ({"ASSISTANT_ENV": "production", **GOOD_SECRETS}, "ACTION_SERVER_TOKEN"),
    ({"ASSISTANT_ENV": "production", "ACTION_SERVER_TOKEN": "x" * (MIN_TOKEN_CHARS - 1),
      **GOOD_SECRETS}, f"at least {MIN_TOKEN_CHARS}"),
    ({"ASSISTANT_ENV": "production", "ACTION_SERVER_TOKEN": TOKEN}, "CUSTOMER_JWT_SECRET"),
    ({"ASSISTANT_ENV": "production", "ACTION_SERVER_TOKEN": TOKEN, **GOOD_SECRETS,
      "STAFF_JWT_SECRET": "dev-staff-secret-change-me-0123456789abc"}, "STAFF_JWT_SECRET"),
    ({"ACTION_SERVER_TOKEN": "two words " + "x" * 40}, "printable ASCII"),
    ({"ASSISTANT_ENV": "prod"}, "ASSISTANT_ENV"),
])
def test_unsafe_configurations_are_refused(env: dict, problem: str):
    with pytest.raises(UnsafeActionServer) as refused:
        check_startup(env)
    assert problem in str(refused.value) and "\n" not in str(refused.value)


def test_safe_configurations_start():
    production = {"ASSISTANT_ENV": "production", "ACTION_SERVER_TOKEN": TOKEN, **GOOD_SECRETS}
    assert check_startup(production) == TOKEN
    assert check_startup({}) is None
    assert check_startup({"ACTION_SERVER_TOKEN": f" {TOKEN}\n"}) == TOKEN


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("ASSISTANT_ENV", "ACTION_SERVER_TOKEN", "ACTIONS_HOST", *GOOD_SECRETS)}
    return {**env, "PYTHONPATH": str(ROOT), **extra}


def test_production_without_token_does_not_start():
    done = subprocess.run(
        [sys.executable, "-m", "actions.server", "--port", str(free_port())],
        cwd=ROOT, env=_server_env(ASSISTANT_ENV="production", **GOOD_SECRETS),
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ACTION_SERVER_TOKEN" in lines[0], done.stderr


def _listening(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (Linux /proc)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for row in Path(table).read_text().splitlines()[1:]:
                local, state = row.split()[1], row.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(address)
    return found


def test_development_entry_point_binds_loopback_and_warns_once(tmp_path: Path):
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "actions.server", "--port", str(port)],
            cwd=ROOT, env=_server_env(), stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        assert _listening(port) == ["0100007F"]  # 127.0.0.1 only
        status, _, _ = asyncio.run(fetch("GET", f"http://127.0.0.1:{port}/actions"))
        assert status == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
    warnings = [line for line in log_path.read_text().splitlines()
                if "ACTION_SERVER_TOKEN" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]
