"""Staff channel (bot/channels/staff.py) in a real in-process Sanic server: the staff token
is checked before anything reaches Rasa, the conversation id and metadata come from the
verified token only, errors are Italian JSON, the page and the dev-only demo token."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
import requests
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic

from bot.channels.staff import StaffInput
from identity import ALGORITHM, AUDIENCE, ISSUER_STAFF, verify_token
from identity.minting import mint_customer_token, mint_staff_token

Sanic.test_mode = True  # several apps start in one process (see tests/channels/conftest.py)

MARIO_CF = "RSSMRA80A01H501U"
STAFF_SECRET = "staff-channel-tests-secret-0123456789abcdef"


@dataclass
class RecordingAgent:
    """Stands for Rasa's agent: records each message, answers with a text and a payload."""

    messages: list[UserMessage] = field(default_factory=list)
    fail: bool = False

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.fail:
            raise RuntimeError("action server unreachable")
        out = message.output_channel
        await out.send_response(message.sender_id, {"text": "Mario Rossi (cliente 1): ..."})
        await out.send_response(
            message.sender_id, {"custom": {"type": "staff_lookup", "customers": [{"id": 1}]}}
        )


class StaffServer:
    """The channel registered as ``rasa run`` does, served on a free port in a thread."""

    def __init__(self, channel: StaffInput, agent: RecordingAgent) -> None:
        self.channel, self.agent = channel, agent
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}/webhooks/staff"
        self._server: Any = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def _start(self) -> None:
        app = Sanic(f"staff_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        register([self.channel], app, route="/webhooks/")
        self._server = await app.create_server(
            sock=self._sock, return_asyncio_server=True, access_log=False
        )
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def _stop(self) -> None:
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()

    def start(self) -> StaffServer:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._sock.close()

    def post(self, body: Any, token: str | None = None, raw: bytes | None = None,
             authorization: str | None = None) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if raw is not None:
            return requests.post(self.base + "/webhook", data=raw, headers=headers, timeout=10)
        return requests.post(self.base + "/webhook", json=body, headers=headers, timeout=10)


@pytest.fixture
def staff_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_JWT_SECRET", STAFF_SECRET)
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "alleanza")
    monkeypatch.delenv("DEMO_PAGES", raising=False)


@pytest.fixture
def agent() -> RecordingAgent:
    return RecordingAgent()


@pytest.fixture
def start_server(staff_env: None, agent: RecordingAgent) -> Iterator[Any]:
    """Builds the channel as credentials.yml does, from the environment at call time."""
    servers: list[StaffServer] = []

    def start() -> StaffServer:
        servers.append(StaffServer(StaffInput.from_credentials(None), agent).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Any) -> StaffServer:
    return start_server()


def staff_token(agency: str = "AL-MI-001", staff_id: str = "S-042", **kwargs: Any) -> str:
    return mint_staff_token(staff_id, "agency_employee", agency, **kwargs)


def error_of(response: requests.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"]["code"], body["error"]["message"]


# --- the turn -------------------------------------------------------------------------


def test_a_verified_staff_message_reaches_rasa_with_derived_id_and_metadata(
    server: StaffServer, agent: RecordingAgent
) -> None:
    token = staff_token()
    response = server.post({"message": f"polizze del cliente {MARIO_CF}"}, token)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["conversation_id"] == "staff:AL-MI-001:S-042"
    assert body["staff"] == {"id": "S-042", "agency": "AL-MI-001", "role": "agency_employee"}
    assert body["messages"] == [
        {"text": "Mario Rossi (cliente 1): ..."},
        {"custom": {"type": "staff_lookup", "customers": [{"id": 1}]}},
    ]
    [message] = agent.messages
    assert message.text == f"polizze del cliente {MARIO_CF}"
    assert message.sender_id == "staff:AL-MI-001:S-042"
    assert message.input_channel == "staff"
    assert message.metadata == {"identity_token": token, "brand": "alleanza"}
    assert verify_token(message.metadata["identity_token"]).staff_id == "S-042"


def test_client_chosen_sender_and_metadata_are_ignored(
    server: StaffServer, agent: RecordingAgent
) -> None:
    token = staff_token("CV-PR-0101", "S-7")
    body = {
        "message": "recapiti di +39 333 1234567",
        "sender": "staff:AL-MI-001:S-042",
        "metadata": {"identity_token": staff_token(), "brand": "alleanza", "agency": "AL-MI-001"},
    }
    assert server.post(body, token).status_code == 200
    [message] = agent.messages
    assert message.sender_id == "staff:CV-PR-0101:S-7"
    assert message.metadata == {"identity_token": token, "brand": "cavita"}  # from the agency


def test_each_staff_member_has_a_conversation_of_their_own(
    server: StaffServer, agent: RecordingAgent
) -> None:
    server.post({"message": "ciao"}, staff_token(staff_id="S-1"))
    server.post({"message": "ciao"}, staff_token(staff_id="S-2"))
    server.post({"message": "ciao"}, staff_token("AL-NA-002", staff_id="S-1"))
    assert [m.sender_id for m in agent.messages] == [
        "staff:AL-MI-001:S-1", "staff:AL-MI-001:S-2", "staff:AL-NA-002:S-1"]


# --- refusals ---------------------------------------------------------------------------


def test_missing_or_malformed_authorization_is_401_in_italian(
    server: StaffServer, agent: RecordingAgent
) -> None:
    missing = server.post({"message": "ciao"})
    assert error_of(missing)[:2] == (401, "missing_token")
    assert "accesso" in error_of(missing)[2]
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    for header in ("Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", f"Token {staff_token()}"):
        assert error_of(server.post({"message": "ciao"}, authorization=header))[:2] == (
            401, "invalid_token"), header
    assert agent.messages == []


def test_expired_and_forged_staff_tokens_are_401(server: StaffServer, agent: RecordingAgent):
    expired = staff_token(ttl_minutes=-5)
    status, code, message = error_of(server.post({"message": "ciao"}, expired))
    assert (status, code) == (401, "token_expired") and "scaduta" in message
    claims = {"iss": ISSUER_STAFF, "aud": AUDIENCE, "sub": "S-042", "role": "agency_employee",
              "agency": "AL-MI-001", "exp": int(time.time()) + 600}
    forged = jwt.encode(claims, "another-secret-long-enough-0123456789abcdef", ALGORITHM)
    assert error_of(server.post({"message": "ciao"}, forged))[:2] == (401, "invalid_token")
    claims["role"] = "admin"  # signed with the right key, but not a staff role
    wrong_role = jwt.encode(claims, STAFF_SECRET, ALGORITHM)
    assert error_of(server.post({"message": "ciao"}, wrong_role))[:2] == (401, "invalid_token")
    assert agent.messages == []


def test_a_customer_token_is_403(server: StaffServer, agent: RecordingAgent) -> None:
    customer = mint_customer_token(1, "alleanza")
    status, code, message = error_of(server.post({"message": "polizze"}, customer))
    assert (status, code) == (403, "not_staff") and "personale di agenzia" in message
    assert agent.messages == []


@pytest.mark.parametrize("raw,code,status", [
    (b"not json", "invalid_request", 400),
    (b"[1, 2]", "invalid_request", 400),
    (b'{"text": "ciao"}', "invalid_request", 400),
    (b'{"message": 42}', "invalid_request", 400),
    (b'{"message": "   "}', "empty_message", 400),
    (b'{"message": "' + b"a" * 20000 + b'"}', "message_too_long", 413),
])
def test_bad_bodies_are_4xx_with_a_code(server: StaffServer, agent: RecordingAgent, raw, code,
                                        status) -> None:
    assert error_of(server.post(None, staff_token(), raw=raw))[:2] == (status, code)
    assert agent.messages == []


def test_a_message_over_the_limit_is_answered_with_the_limit_and_not_processed(
    server: StaffServer, agent: RecordingAgent
) -> None:
    """Like on every channel: the reply says the limit, the message never reaches Rasa."""
    response = server.post({"message": "a" * 1001}, staff_token())
    assert response.status_code == 200
    [reply] = response.json()["messages"]
    assert reply["text"].startswith("Il messaggio è troppo lungo") and "1000" in reply["text"]
    assert agent.messages == []
    assert server.post({"message": "a" * 1000}, staff_token()).status_code == 200
    assert len(agent.messages) == 1


def test_a_failing_turn_is_a_short_italian_500_and_logs_nothing_personal(
    server: StaffServer, agent: RecordingAgent, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    agent.fail = True
    token = staff_token()
    response = server.post({"message": f"polizze del cliente {MARIO_CF}"}, token)
    status, code, message = error_of(response)
    assert (status, code) == (500, "internal_error") and "problema tecnico" in message
    assert "RuntimeError" not in response.text and "Traceback" not in response.text
    agent.fail = False
    server.post({"message": f"recapiti di {MARIO_CF}"}, token)
    logged = "\n".join(
        r.getMessage() + (r.exc_text or "") for r in caplog.records
        if r.name.startswith("bot.channels")
    )
    assert "staff turn failed (staff=S-042 agency=AL-MI-001)" in logged
    assert "staff turn: staff=S-042 agency=AL-MI-001, 2 replies" in logged
    assert MARIO_CF not in logged and token not in logged


# --- who am I, page, demo token ---------------------------------------------------------


def test_me_tells_the_page_who_the_token_is_for(server: StaffServer) -> None:
    token = staff_token("CV-MI-0205", "S-9")
    ok = requests.get(server.base + "/me", headers={"Authorization": f"Bearer {token}"},
                      timeout=10)
    assert ok.status_code == 200
    assert ok.json()["staff"] == {"id": "S-9", "agency": "CV-MI-0205", "role": "agency_employee"}
    assert ok.json()["expires_at"] > time.time()
    assert error_of(requests.get(server.base + "/me", timeout=10))[:2] == (401, "missing_token")


def test_the_page_and_its_files_are_served_with_a_strict_policy(server: StaffServer) -> None:
    page = requests.get(server.base + "/", timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert '<html lang="it">' in page.text and "staff.js" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["Cache-Control"] == "no-store"
    redirect = requests.get(server.base, timeout=10, allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"].endswith("/webhooks/staff/")
    script = requests.get(server.base + "/staff.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert requests.get(server.base + "/staff.css", timeout=10).status_code == 200
    for name in ("/secret.txt", "/..%2F..%2Fcredentials.yml", "/index.htm", "/webhook"):
        response = requests.get(server.base + name, timeout=10)
        assert response.status_code in (404, 405), name
        assert "bot.channels" not in response.text


def test_demo_token_is_off_unless_demo_pages_is_set(server: StaffServer) -> None:
    response = requests.get(server.base + "/demo-token?agency=AL-MI-001", timeout=10)
    assert error_of(response)[:2] == (404, "demo_disabled")


def test_demo_token_in_development(start_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_PAGES", "1")
    server = start_server()
    response = requests.get(server.base + "/demo-token",
                            params={"agency": "CV-PR-0101", "staff_id": "S-DEV"}, timeout=10)
    assert response.status_code == 200
    body = response.json()
    identity = verify_token(body["token"])
    assert (identity.kind, identity.staff_id, identity.agency) == ("staff", "S-DEV", "CV-PR-0101")
    assert body["expires_in"] == 1800
    default = requests.get(server.base + "/demo-token", timeout=10).json()
    assert verify_token(default["token"]).agency == "AL-MI-001"
    for params in ({"agency": "milano"}, {"staff_id": "a b"}, {"role": "admin"}):
        bad = requests.get(server.base + "/demo-token", params=params, timeout=10)
        assert error_of(bad)[:2] == (400, "invalid_demo_request"), params
    # The demo token works on the webhook like a real one.
    assert server.post({"message": "ciao"}, body["token"]).status_code == 200
