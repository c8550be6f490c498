"""The website chat channel (bot/channels/socketio_jwt.py), no model needed.

A real python-socketio client talks to the channel registered in a Sanic app the way
``rasa run`` registers it (``rasa.core.channels.channel.register``); only Rasa's agent is a
stand-in that records each ``UserMessage`` and answers through the channel's own output
channel, so a reply reaches the browser only if the socket really joined the room.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import socketio
from rasa.core.channels.channel import InputChannel, UserMessage, register
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from sanic import Sanic

import bot.channels.socketio_jwt as chat
from bot.channels.socketio_jwt import (
    VerifiedSocketIOInput,
    customer_conversation,
    replay_cursor,
    session_for,
    visitor_ticket,
)
from identity import anonymous, identity_from_metadata
from identity.minting import mint_customer_token, mint_staff_token

# Several Sanic apps start in one process: keep Sanic from patching its protocol twice.
Sanic.test_mode = True

TIMEOUT = 5.0


def _tracker_store() -> InMemoryTrackerStore:
    return InMemoryTrackerStore(Domain.empty())


@dataclass
class RecordingAgent:
    """Stands for Rasa's agent: records each message and answers with text and a button
    the way Rasa's processor does (a ``BotUttered`` event in a real in-memory tracker store,
    its ``message()`` sent through the channel's output channel)."""

    messages: list[UserMessage] = field(default_factory=list)
    tracker_store: InMemoryTrackerStore = field(default_factory=_tracker_store)
    gate: threading.Event | None = None  # when set, a reply waits for it
    answered: int = 0

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.gate is not None:
            await asyncio.to_thread(self.gate.wait, TIMEOUT)
        tracker = await self.tracker_store.get_or_create_tracker(message.sender_id)
        tracker.update(UserUttered(message.text))
        count = len(self.messages)
        text = "Risposta di prova" if count == 1 else f"Risposta di prova {count}"
        buttons = [{"title": "Sì, grazie", "payload": "/conferma"}]
        reply = BotUttered(text, data={"buttons": buttons})
        tracker.update(reply)
        await message.output_channel.send_response(message.sender_id, reply.message())
        await self.tracker_store.save(tracker)
        self.answered += 1


class ChatServer:
    """The channel in a Sanic server on its own event loop and thread, as under rasa run."""

    def __init__(self, channel: InputChannel) -> None:
        self.channel, self.agent = channel, RecordingAgent()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._server: Any = None

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(TIMEOUT * 2)

    async def _start(self) -> None:
        app = Sanic(f"chat_test_{uuid.uuid4().hex[:8]}")
        app.ctx.agent = self.agent
        register([self.channel], app, route="/webhooks/")
        # A long-poll returns at the next ping: 1 s instead of 25 s keeps hang-ups quick.
        self.channel.sio.eio.ping_interval = 1
        self._server = await app.create_server(sock=self._sock, return_asyncio_server=True,
                                               access_log=False)
        await self._server.startup()
        await self._server.before_start()
        await self._server.after_start()

    async def _stop(self) -> None:
        await self._server.before_stop()
        self._server.close()
        await self._server.wait_closed()
        await self._server.after_stop()

    def __enter__(self) -> ChatServer:
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._sock.close()

    def get(self, path: str) -> requests.Response:
        return requests.get(self.url + path, timeout=TIMEOUT, allow_redirects=False)

    def send_from_bot(self, conversation: str, text: str) -> None:
        """What Rasa does with a reply: emit to the conversation's room."""
        output = SocketIOOutput(self.channel.sio, "bot_uttered")
        self.call(output.send_text_message(conversation, text))


class Client:
    """A browser stand-in: python-socketio's AsyncClient (long-polling: its websocket
    transport needs a newer aiohttp than Rasa's lock has)."""

    def __init__(self, server: ChatServer) -> None:
        self.server = server
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, asyncio.Queue] = {}
        self.refused: dict[str, Any] | None = None
        for name in ("session_confirm", "bot_uttered", "auth_error"):
            self.events[name] = asyncio.Queue()
            self.sio.on(name, self._recorder(name))
        self.sio.on("connect_error", self._on_refused)

    def _recorder(self, name: str) -> Any:
        async def record(data: Any) -> None:
            await self.events[name].put(data)
        return record

    async def _on_refused(self, error: Any) -> None:
        self.refused = error  # {"message": ..., "data": ...} as the server sent it

    async def connect(self, auth: dict[str, Any] | None) -> bool:
        """True once connected; False when refused (then ``refused`` holds the reason)."""
        attempt = asyncio.ensure_future(self.sio.connect(
            self.server.url, auth=auth, transports=["polling"], wait_timeout=TIMEOUT))
        deadline = asyncio.get_running_loop().time() + TIMEOUT
        while not attempt.done() and self.refused is None:
            assert asyncio.get_running_loop().time() < deadline, "no answer to connect"
            await asyncio.sleep(0.02)
        if self.refused is not None:
            # The client would wait for its long-poll before giving up: hang up now.
            await self.close()
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError, socketio.exceptions.SocketIOError):
                await attempt
            return False
        attempt.result()
        return True

    async def next(self, event: str, timeout: float = TIMEOUT) -> Any:
        return await asyncio.wait_for(self.events[event].get(), timeout)

    async def expect_no_reply(self, within: float = 0.5) -> None:
        """Fails if a ``bot_uttered`` arrives within ``within`` seconds."""
        with pytest.raises(asyncio.TimeoutError):
            await self.next("bot_uttered", timeout=within)

    async def session(self, data: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.sio.emit("session_request", data or {"session_id": "scelto-dal-browser"})
        return await self.next("session_confirm")

    async def say(self, text: str, **extra: Any) -> list[dict[str, Any]]:
        await self.sio.emit("user_uttered", {"message": text, **extra})
        return [await self.next("bot_uttered")]

    async def close(self) -> None:
        """Hang up at once: a polite disconnect waits for the pending long-poll (25 s)."""
        if self.sio.eio.state == "connected":
            await self.sio.eio.disconnect(abort=True)
        task = self.sio.eio.read_loop_task
        if task is not None and not task.done():
            task.cancel()
        if self.sio.eio.http is not None:
            await self.sio.eio.http.close()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 4 * TIMEOUT))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("CUSTOMER_JWT_SECRET", "CHAT_TICKET_SECRET", "CHAT_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "alleanza")
    monkeypatch.setenv("DEMO_PAGES", "0")
    return monkeypatch


@pytest.fixture
def server(env: pytest.MonkeyPatch) -> Iterator[ChatServer]:
    """The channel as credentials.yml configures it."""
    channel = VerifiedSocketIOInput.from_credentials({
        "user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered",
        "session_persistence": True})
    with ChatServer(channel) as running:
        yield running


async def _session_and_message(server: ChatServer, auth: dict | None, text: str = "ciao",
                               **extra: Any) -> tuple[dict, list[dict]]:
    client = Client(server)
    assert await client.connect(auth), client.refused
    try:
        confirm = await client.session()
        replies = await client.say(text, **extra)
    finally:
        await client.close()
    return confirm, replies


# --- visitors ---------------------------------------------------------------------------


def test_visitor_gets_a_server_made_conversation_and_replies(server: ChatServer) -> None:
    confirm, replies = run(_session_and_message(server, {"brand": "cavita"}))
    conversation = confirm["session_id"]
    assert conversation.startswith("web:anon-") and conversation != "scelto-dal-browser"
    assert confirm["customer"] is False and confirm["brand"] == "cavita"
    assert confirm["ticket"] == visitor_ticket(conversation)
    assert replies[0]["text"] == "Risposta di prova"
    assert replies[0]["quick_replies"][0] == {
        "content_type": "text", "title": "Sì, grazie", "payload": "/conferma"}
    (message,) = server.agent.messages
    assert message.sender_id == conversation
    assert message.input_channel == "chat"
    assert message.metadata == {"brand": "cavita"}


def test_visitor_without_a_known_brand_gets_the_deployment_default(
    server: ChatServer, env: pytest.MonkeyPatch
) -> None:
    env.setenv("ASSISTANT_DEFAULT_BRAND", "cavita")
    confirm, _ = run(_session_and_message(server, {"brand": "generali"}))
    assert confirm["brand"] == "cavita"
    assert server.agent.messages[0].metadata == {"brand": "cavita"}


def test_client_metadata_and_session_id_never_reach_the_bot(server: ChatServer) -> None:
    forged = {"identity_token": mint_customer_token(1, "alleanza"), "customer_id": "1",
              "brand": "cavita"}
    confirm, _ = run(_session_and_message(
        server, {"brand": "alleanza"}, metadata=forged, customData=forged,
        session_id="web-di-qualcun-altro"))
    (message,) = server.agent.messages
    assert message.metadata == {"brand": "alleanza"}
    assert identity_from_metadata(message.metadata).kind == "anonymous"
    assert message.sender_id == confirm["session_id"]


def test_long_messages_get_the_limit_and_blank_ones_are_ignored(server: ChatServer) -> None:
    """Over MAX_MESSAGE_CHARS: the widget is told the limit, nothing reaches Rasa (it used to
    be cut silently and processed)."""
    async def talk() -> list[dict]:
        client = Client(server)
        assert await client.connect({"brand": "alleanza"})
        await client.session()
        await client.sio.emit("user_uttered", {"message": "   "})
        await client.sio.emit("user_uttered", {"text": "senza message"})
        refused = await client.say("x" * 1001)
        await client.say(" " + "y" * 1000 + " ")
        await client.close()
        return refused

    [reply] = run(talk())
    assert reply["text"].startswith("Il messaggio è troppo lungo") and "1000" in reply["text"]
    (message,) = server.agent.messages
    assert message.text == "y" * 1000


def test_conversation_ids_are_in_the_web_namespace(env: pytest.MonkeyPatch) -> None:
    assert customer_conversation("alleanza", "1").startswith("web:web-")
    assert session_for({"brand": "alleanza"}).conversation.startswith("web:anon-")


# --- session persistence: the room is joined before session_confirm ---------------------


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("channel_class, delivered", [
    (VerifiedSocketIOInput, True),
    (SocketIOInput, False),  # the stock channel: enter_room not awaited, the reply is lost
])
def test_a_reply_reaches_the_socket_right_after_session_confirm(
    env: pytest.MonkeyPatch, channel_class: type[SocketIOInput], delivered: bool
) -> None:
    """Before any message of its own, the socket is in its conversation's room."""
    channel = channel_class.from_credentials({"session_persistence": True})

    async def talk(server: ChatServer) -> bool:
        client = Client(server)
        assert await client.connect({"brand": "alleanza"})
        confirm = await client.session({"session_id": "sessione-di-prova"})
        conversation = confirm["session_id"] if isinstance(confirm, dict) else confirm
        # Rasa emits a reply to the conversation's room, as for a message of this socket.
        await asyncio.to_thread(server.send_from_bot, conversation, "Risposta")
        try:
            await client.next("bot_uttered", timeout=1.0)
            return True
        except asyncio.TimeoutError:
            return False
        finally:
            await client.close()

    with ChatServer(channel) as server:
        assert run(talk(server)) is delivered


# --- customers --------------------------------------------------------------------------


def test_customer_token_gives_a_verified_identity_and_a_stable_conversation(
    server: ChatServer,
) -> None:
    token = mint_customer_token(1, "alleanza", ttl_minutes=10)
    first, _ = run(_session_and_message(server, {"brand": "alleanza", "token": token}))
    again, _ = run(_session_and_message(
        server, {"brand": "alleanza", "token": mint_customer_token(1, "alleanza")}))
    assert first["customer"] is True and "ticket" not in first
    assert first["session_id"] == again["session_id"] == customer_conversation("alleanza", "1")
    message = server.agent.messages[0]
    assert message.sender_id == first["session_id"]
    assert message.metadata == {"brand": "alleanza", "identity_token": token}
    identity = identity_from_metadata(message.metadata)
    assert (identity.kind, identity.customer_id, identity.brand) == ("customer", "1", "alleanza")


def test_a_page_without_a_brand_takes_the_token_brand(server: ChatServer) -> None:
    confirm, _ = run(_session_and_message(server, {"token": mint_customer_token(7, "cavita")}))
    assert confirm["brand"] == "cavita"
    assert server.agent.messages[0].metadata["brand"] == "cavita"


def test_conversation_ids_are_keyed_per_customer_and_brand(env: pytest.MonkeyPatch) -> None:
    ids = {customer_conversation(brand, cid) for brand in ("alleanza", "cavita")
           for cid in ("1", "2")}
    assert len(ids) == 4
    plain = hashlib.sha256(b"alleanza:1").hexdigest()
    assert plain[:32] not in customer_conversation("alleanza", "1")  # not a bare hash
    env.setenv("CHAT_TICKET_SECRET", "x" * 40)
    assert customer_conversation("alleanza", "1") not in ids  # the key is what matters


@pytest.mark.parametrize("name, token, page_brand, code", [
    ("garbage", "non-un-token", "alleanza", "invalid"),
    ("forged", mint_customer_token(1, "alleanza", secret="s" * 40), "alleanza", "invalid"),
    ("expired", mint_customer_token(1, "alleanza", ttl_minutes=-5), "alleanza", "expired"),
    ("other brand", mint_customer_token(7, "cavita"), "alleanza", "wrong_brand"),
    ("staff token", mint_staff_token("S1", "agency_employee", "AL-MI-001"), "alleanza",
     "invalid"),
], ids=lambda value: value if isinstance(value, str) and len(value) < 20 else "")
def test_bad_tokens_refuse_the_connection_with_an_italian_reason(
    server: ChatServer, name: str, token: str, page_brand: str, code: str
) -> None:
    async def talk() -> Client:
        client = Client(server)
        assert await client.connect({"brand": page_brand, "token": token}) is False
        return client

    client = run(talk())
    assert client.refused is not None, name
    assert client.refused["data"] == {"code": code}, name
    assert client.refused["message"] == chat.REFUSALS[code]
    assert server.agent.messages == []


def test_a_token_in_session_request_is_verified_too(server: ChatServer) -> None:
    async def talk() -> tuple[dict, dict]:
        good = Client(server)
        assert await good.connect({"brand": "alleanza"})
        confirm = await good.session({"token": mint_customer_token(2, "alleanza")})
        await good.close()
        bad = Client(server)
        assert await bad.connect({"brand": "alleanza"})
        await bad.sio.emit("session_request", {"token": "non-un-token"})
        error = await bad.next("auth_error")
        await asyncio.sleep(0.2)
        assert not bad.sio.connected  # disconnected by the server: never silently anonymous
        return confirm, error

    confirm, error = run(talk())
    assert confirm["customer"] is True
    assert confirm["session_id"] == customer_conversation("alleanza", "2")
    assert error == {"code": "invalid", "message": chat.REFUSALS["invalid"]}


def test_a_token_expiring_during_the_chat_stops_the_messages(
    server: ChatServer, env: pytest.MonkeyPatch
) -> None:
    async def talk() -> dict:
        client = Client(server)
        assert await client.connect({"token": mint_customer_token(1, "alleanza")})
        await client.session()
        env.setattr(chat, "verify_token", lambda token: anonymous("expired"))
        await client.sio.emit("user_uttered", {"message": "le mie polizze"})
        error = await client.next("auth_error")
        await client.close()
        return error

    assert run(talk()) == {"code": "expired", "message": chat.REFUSALS["expired"]}
    assert server.agent.messages == []


# --- visitors resuming after a reconnect ------------------------------------------------


def test_a_visitor_resumes_only_with_the_signed_ticket(env: pytest.MonkeyPatch) -> None:
    first = session_for({"brand": "alleanza"})
    ticket = visitor_ticket(first.conversation)
    resumed = session_for({"conversation": first.conversation, "ticket": ticket})
    assert resumed.conversation == first.conversation and resumed.token is None
    forged = session_for({"conversation": first.conversation, "ticket": "0" * 64})
    assert forged.conversation != first.conversation
    customer_id = customer_conversation("alleanza", "1")
    stolen = session_for({"conversation": customer_id, "ticket": visitor_ticket(customer_id)})
    assert stolen.conversation.startswith("web:anon-")  # a customer's conversation: never
    off = session_for({"conversation": first.conversation, "ticket": ticket}, resumable=False)
    assert off.conversation != first.conversation


def test_reconnecting_visitor_gets_the_same_conversation(server: ChatServer) -> None:
    async def talk() -> tuple[dict, dict]:
        client = Client(server)
        assert await client.connect({"brand": "alleanza"})
        first = await client.session()
        await client.close()
        again = Client(server)
        assert await again.connect({"brand": "alleanza", "conversation": first["session_id"],
                                    "ticket": first["ticket"]})
        second = await again.session()
        await again.close()
        return first, second

    first, second = run(talk())
    assert second["session_id"] == first["session_id"]


# --- replies missed while offline ------------------------------------------------------


def test_replies_carry_their_event_timestamp(server: ChatServer) -> None:
    _, replies = run(_session_and_message(server, {"brand": "alleanza"}))
    assert isinstance(replies[0]["ts"], float) and replies[0]["ts"] > 0


def test_a_reply_sent_while_offline_arrives_after_the_reconnect(server: ChatServer) -> None:
    """The reply to a question is ready while the socket is gone (network drop, tab asleep):
    the widget reconnects with the last reply it showed and gets the one it missed."""
    token = mint_customer_token(2, "alleanza")
    auth = {"brand": "alleanza", "token": token}

    async def talk() -> tuple[dict, list[dict]]:
        client = Client(server)
        assert await client.connect(auth)
        await client.session({})
        [first] = await client.say("ciao")
        server.agent.gate = threading.Event()
        await client.sio.emit("user_uttered", {"message": "le mie polizze"})
        while len(server.agent.messages) < 2:
            await asyncio.sleep(0.02)
        await client.close()  # gone before the answer
        server.agent.gate.set()
        while server.agent.answered < 2:
            await asyncio.sleep(0.02)
        again = Client(server)
        assert await again.connect({**auth, "token": mint_customer_token(2, "alleanza")})
        try:
            await again.session({"last_bot_ts": first["ts"]})
            missed = [await again.next("bot_uttered")]
            await again.expect_no_reply()  # nothing else, nothing twice
        finally:
            await again.close()
        return first, missed

    first, missed = run(talk())
    assert first["text"] == "Risposta di prova"
    assert missed[0]["text"] == "Risposta di prova 2" and missed[0]["ts"] > first["ts"]
    assert missed[0]["quick_replies"][0]["payload"] == "/conferma"


def test_each_part_of_a_reply_is_numbered_and_replayed_once_per_socket(
    server: ChatServer,
) -> None:
    """Rasa splits a reply on blank lines (buttons on the last part): every part carries the
    event's ``ts`` and its own ``part``; a second replay request on the same socket gets
    nothing."""
    token = mint_customer_token(6, "alleanza")

    async def talk() -> list[dict]:
        tracker = await server.agent.tracker_store.get_or_create_tracker(
            customer_conversation("alleanza", "6"))
        reply = BotUttered("Primo paragrafo.\n\nSecondo paragrafo.",
                           data={"buttons": [{"title": "Ok", "payload": "/conferma"}]})
        tracker.update(reply)
        await server.agent.tracker_store.save(tracker)
        client = Client(server)
        assert await client.connect({"brand": "alleanza", "token": token})
        try:
            await client.session({"last_bot_ts": reply.timestamp - 1})
            parts = [await client.next("bot_uttered"), await client.next("bot_uttered")]
            await client.session({"last_bot_ts": reply.timestamp - 1})
            await client.expect_no_reply()
        finally:
            await client.close()
        return parts

    parts = run(talk())
    assert [(p["text"], p["part"]) for p in parts] == [("Primo paragrafo.", 0),
                                                       ("Secondo paragrafo.", 1)]
    assert parts[0]["ts"] == parts[1]["ts"] and parts[1]["quick_replies"][0]["title"] == "Ok"


def test_replay_cursor_accepts_only_plain_positive_numbers() -> None:
    assert replay_cursor({"last_bot_ts": 1700000000.5}) == 1700000000.5
    for bad in (None, "1700000000", True, 0, -1, float("nan"), float("inf"), 10**400, [1]):
        assert replay_cursor({"last_bot_ts": bad}) is None, bad


@pytest.mark.parametrize("cursor", [None, "ieri", True, -1, float("nan")])
def test_no_usable_cursor_means_no_replay(server: ChatServer, cursor: object) -> None:
    async def talk() -> None:
        auth = {"brand": "alleanza", "token": mint_customer_token(3, "alleanza")}
        await _session_and_message(server, auth)
        again = Client(server)
        assert await again.connect(auth)
        try:
            confirm = await again.session({} if cursor is None else {"last_bot_ts": cursor})
            assert confirm["customer"] is True  # the session itself is fine
            await again.expect_no_reply()
        finally:
            await again.close()

    run(talk())


def test_a_replay_never_reaches_another_conversation(server: ChatServer) -> None:
    async def talk() -> None:
        owned, _ = await _session_and_message(
            server, {"brand": "alleanza", "token": mint_customer_token(4, "alleanza")})
        stranger = Client(server)
        assert await stranger.connect({"brand": "alleanza",
                                       "token": mint_customer_token(5, "alleanza"),
                                       "conversation": owned["session_id"]})
        try:
            # The owner's conversation id, named every way a client can: ignored.
            await stranger.session({"last_bot_ts": 1.0, "session_id": owned["session_id"],
                                    "conversation": owned["session_id"]})
            await stranger.expect_no_reply()
        finally:
            await stranger.close()

    run(talk())


# --- pages and assets -------------------------------------------------------------------


def test_widget_assets_are_served_locally_and_nothing_else(server: ChatServer) -> None:
    page = server.get("/webhooks/chat/")
    assert page.status_code == 200 and "chat.js" in page.text and "demo.js" not in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = server.get("/webhooks/chat/widget/chat.js")
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "AreaClientiChat" in script.text
    assert server.get("/webhooks/chat/widget/chat.css").status_code == 200
    assert server.get("/webhooks/chat/widget/").status_code == 200
    client = server.get("/webhooks/chat/vendor/socket.io.min.js")
    assert client.status_code == 200 and "socket.io" in client.text[:200].lower()
    for path in ("/webhooks/chat/widget/..%2F..%2FREADME.md", "/webhooks/chat/widget/x.py",
                 "/webhooks/chat/demo/demo.js", "/webhooks/chat/demo/index.html"):
        assert server.get(path).status_code == 404, path
    assert server.get("/webhooks/chat/demo-token?customer=1&brand=alleanza").status_code == 404


def test_demo_page_and_tokens_only_with_demo_pages(env: pytest.MonkeyPatch) -> None:
    env.setenv("DEMO_PAGES", "1")
    with ChatServer(VerifiedSocketIOInput.from_credentials(None)) as server:
        page = server.get("/webhooks/chat/")
        assert "demo.js" in page.text
        assert server.get("/webhooks/chat/demo/demo.js").status_code == 200
        token = server.get("/webhooks/chat/demo-token?customer=2&brand=alleanza").json()["token"]
        identity = identity_from_metadata({"identity_token": token})
        assert (identity.kind, identity.customer_id, identity.brand) == (
            "customer", "2", "alleanza")
        expired = server.get("/webhooks/chat/demo-token?customer=2&brand=cavita&expired=1")
        assert identity_from_metadata({"identity_token": expired.json()["token"]}).reason == (
            "expired")
        assert server.get("/webhooks/chat/demo-token?customer=../1&brand=x").status_code == 400


def test_pages_load_nothing_from_other_sites() -> None:
    """No CDN, no external fonts: pages and styles name local files only, scripts fetch
    nothing by URL (chat.js finds the chat server from its own address)."""
    import re

    from tests.conftest import ROOT

    files = [*(ROOT / "web" / "widget").glob("*.*"), *(ROOT / "web" / "demo").glob("*.*")]
    assert {p.name for p in files} >= {"index.html", "chat.js", "chat.css", "demo.js"}
    markup = re.compile(
        r"""(src|href)\s*=\s*["']\s*(https?:)?//|url\(\s*["']?(https?:)?//|@import""")
    script = re.compile(r"""["'`](https?:)?//""")
    for path in files:
        text = path.read_text()
        if path.suffix == ".js":
            text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)  # the usage comment
            assert not script.search(text), path
        else:
            assert not markup.search(text), path


# --- the live handoff: messages no turn asked for ----------------------------------------


def test_an_operators_message_reaches_the_widget_room_through_the_outbound_registry(
        server: ChatServer) -> None:
    from bot.channels import outbound

    async def scenario() -> tuple[dict, dict, bool, bool]:
        client = Client(server)
        assert await client.connect({"brand": "alleanza"}), client.refused
        try:
            confirm = await client.session()
            conversation = confirm["session_id"]
            assert outbound.reachable(conversation)
            sent = asyncio.run_coroutine_threadsafe(
                outbound.deliver(conversation, "Sono Laura dell'assistenza", 1234.5,
                                 "operator"), server.loop)
            operator = await client.next("bot_uttered")
            notice = asyncio.run_coroutine_threadsafe(
                outbound.deliver(conversation, "Sono di nuovo l'assistente", 1240.0,
                                 state="assistant"),
                server.loop)
            system = await client.next("bot_uttered")
            other = asyncio.run_coroutine_threadsafe(
                outbound.deliver("web:anon-someone-else", "non per te", 1250.0), server.loop)
            await client.expect_no_reply()
        finally:
            await client.close()
        return operator, system, sent.result(5) and notice.result(5), other.result(5)

    operator, system, delivered, other = run(scenario())
    assert operator == {"text": "Sono Laura dell'assistenza", "ts": 1234.5, "part": 0,
                        "sender": "operator", "handoff": "held"}
    assert system == {"text": "Sono di nuovo l'assistente", "ts": 1240.0, "part": 0,
                      "handoff": "assistant"}
    assert delivered and other  # an empty room is not an error: the replay covers it


def test_with_redis_configured_the_socket_server_shares_emits_across_replicas() -> None:
    from socketio import AsyncRedisManager

    assert chat.client_manager({}) == {}
    manager = chat.client_manager({"REDIS_URL": "redis://127.0.0.1:6379/0"})["client_manager"]
    assert isinstance(manager, AsyncRedisManager)
