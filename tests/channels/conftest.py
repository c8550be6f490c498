"""WhatsApp channel fixtures: the channel in a real Sanic server, the fake Twilio API.

The server runs on its own event loop in a background thread, as under ``rasa run``, so the
tests talk to it over HTTP like Twilio does and the background turns really run in the
background. Rasa's agent is replaced by :class:`WhatsAppFakeAgent` (records each
``UserMessage`` and answers through the channel's real output channel).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from rasa.core.channels.channel import UserMessage, register
from sanic import Sanic
from twilio.request_validator import RequestValidator

from backend_stub.fake_twilio import DEFAULT_SID, DEFAULT_TOKEN, FakeTwilio

# Several apps start in one process here: test mode makes Sanic keep its original protocol
# code instead of rewriting the already rewritten methods again (KeyError: 'read').
Sanic.test_mode = True

WHATSAPP_TEST_SECRET = "whatsapp-tests-channel-secret-0123456789"
WHATSAPP_FROM = "whatsapp:+14155238886"
WHATSAPP_PATH = "/webhooks/whatsapp/webhook"

Reply = Callable[[UserMessage], list[dict[str, Any]]]


def _echo(message: UserMessage) -> list[dict[str, Any]]:
    return [{"text": f"Hai scritto: {message.text}"}]


@dataclass
class WhatsAppFakeAgent:
    """Stands for Rasa's agent: records the messages, answers with ``reply(message)``."""

    reply: Reply = _echo
    messages: list[UserMessage] = field(default_factory=list)
    gate: threading.Event | None = None  # when set, a turn waits for it before answering
    fail: bool = False

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, 10)
        if self.fail:
            raise RuntimeError("model not loaded")
        for bot_message in self.reply(message):
            await message.output_channel.send_response(message.sender_id, dict(bot_message))

    def wait_for(self, count: int, timeout: float = 10.0) -> list[UserMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} turns arrived")
            time.sleep(0.02)
        return list(self.messages)


class WhatsAppServer:
    """A Sanic app with the channel registered the way ``rasa run`` registers it."""

    def __init__(self, channel: Any, agent: WhatsAppFakeAgent) -> None:
        self.channel, self.agent = channel, agent
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.url = self.base_url + WHATSAPP_PATH
        self._server: Any = None

    def _call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        app = Sanic(f"whatsapp_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        register([self.channel], app, route="/webhooks/")
        self._server = await app.create_server(
            sock=self._sock, return_asyncio_server=True, access_log=False
        )
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def _stop(self) -> None:
        await self._server.before_stop()  # drains the channel's background turns
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()

    def start(self) -> WhatsAppServer:
        self._thread.start()
        self._call(self._start())
        return self

    def drain(self) -> None:
        """Wait until every background turn has finished."""
        self._call(self.channel.drain())

    def stop(self) -> None:
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._sock.close()


def whatsapp_form(**fields: str) -> dict[str, str]:
    """A form like the one Twilio posts for an inbound WhatsApp text."""
    form = {
        "SmsMessageSid": "",
        "NumMedia": "0",
        "ProfileName": "Mario Rossi",
        "WaId": "393331234567",
        "SmsStatus": "received",
        "Body": "ciao",
        "To": WHATSAPP_FROM,
        "NumSegments": "1",
        "MessageSid": "SM" + uuid.uuid4().hex,
        "AccountSid": DEFAULT_SID,
        "From": "whatsapp:+393331234567",
        "ApiVersion": "2010-04-01",
    }
    form.update(fields)
    form["SmsMessageSid"] = form["MessageSid"]
    return {k: v for k, v in form.items() if v is not None}


def whatsapp_signature(url: str, form: dict[str, str], token: str = DEFAULT_TOKEN) -> str:
    """What Twilio puts in X-Twilio-Signature (its own validator's algorithm)."""
    return RequestValidator(token).compute_signature(url, form)


def whatsapp_post(
    url: str, form: dict[str, str], signature: str | None = "auto", sign_url: str | None = None
) -> requests.Response:
    """POST ``form`` as Twilio does; signature "auto" signs it correctly, None omits it."""
    headers = {}
    if signature == "auto":
        signature = whatsapp_signature(sign_url or url, form)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return requests.post(url, data=form, headers=headers, timeout=10)


@pytest.fixture(autouse=True)
def development_settings(monkeypatch: pytest.MonkeyPatch,
                         tmp_path: Path) -> Iterator[None]:
    """Each test reads bot/settings.py afresh, from a development environment, and keeps
    the WhatsApp channel's seen messages in its own file (never the clone's var/)."""
    import bot.settings

    for name in ("ASSISTANT_ENV", "MAX_MESSAGE_CHARS", "REST_SERVICE_TOKEN", "RASA_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHANNEL_STATE_DB", str(tmp_path / "channel_state.sqlite3"))
    bot.settings.reset()
    yield
    bot.settings.reset()


@pytest.fixture(scope="session")
def whatsapp_fake_twilio_server() -> Iterator[FakeTwilio]:
    """The fake Twilio Messages API (its test account), on a free port, for the session."""
    with FakeTwilio() as fake:  # stopping it takes 0.5 s: once is enough
        yield fake


@pytest.fixture
def whatsapp_fake_twilio(whatsapp_fake_twilio_server: FakeTwilio) -> FakeTwilio:
    """The fake Twilio API, emptied for this test."""
    whatsapp_fake_twilio_server.clear()
    return whatsapp_fake_twilio_server


@pytest.fixture
def whatsapp_env(monkeypatch: pytest.MonkeyPatch, whatsapp_fake_twilio: FakeTwilio) -> FakeTwilio:
    """Environment of a deployment whose replies go to the fake Twilio API."""
    for name in ("WHATSAPP_PUBLIC_URL", "WHATSAPP_BRAND", "WHATSAPP_OUTBOX_PATH", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", DEFAULT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", DEFAULT_TOKEN)
    monkeypatch.setenv("TWILIO_WHATSAPP_FROM", WHATSAPP_FROM)
    monkeypatch.setenv("TWILIO_API_BASE_URL", whatsapp_fake_twilio.url)
    monkeypatch.setenv("CHANNEL_ASSERTION_SECRET", WHATSAPP_TEST_SECRET)
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "alleanza")
    return whatsapp_fake_twilio


@pytest.fixture
def whatsapp_agent() -> WhatsAppFakeAgent:
    return WhatsAppFakeAgent()


@pytest.fixture
def whatsapp_server_factory(
    whatsapp_agent: WhatsAppFakeAgent,
) -> Iterator[Callable[[], WhatsAppServer]]:
    """Starts the channel as configured by the environment *at call time*."""
    from bot.channels.whatsapp import WhatsAppInput

    servers: list[WhatsAppServer] = []

    def start() -> WhatsAppServer:
        channel = WhatsAppInput.from_credentials(None)  # as credentials.yml does
        servers.append(WhatsAppServer(channel, whatsapp_agent).start())
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def whatsapp_server(
    whatsapp_env: FakeTwilio, whatsapp_server_factory: Callable[[], WhatsAppServer]
) -> WhatsAppServer:
    """The channel with replies going to the fake Twilio API."""
    return whatsapp_server_factory()
