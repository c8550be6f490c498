"""The website chat: socket.io with the host page's customer JWT verified at connect.

Why a subclass of Rasa's ``SocketIOInput``: the stock channel trusts whatever the browser
sends (its ``session_id`` picks the conversation, its ``metadata`` goes straight to the
actions) and, with session persistence on, does not await ``enter_room`` (a coroutine in
python-socketio 5), so the socket never joins the room its replies are emitted to. Here:

* **Identity.** The host page passes the customer's short-lived JWT in the socket.io
  ``auth`` object at connect (``{"token": ..., "brand": ...}``; clients that cannot set
  ``auth`` may put ``token`` in their first ``session_request``). It is verified with
  :func:`identity.verify_token` (HS256, issuer ``area-clienti-web``, audience
  ``assistente``, expiry). No token: an anonymous visitor (FAQ answers only). A bad, expired,
  non-customer or other-brand token refuses the connection with an Italian message
  (``connect_error``: ``message`` and ``data.code``), never a silent anonymous session.
* **Session.** The verified claims live in the socket session (``sio.save_session``). Every
  message is passed on with ``metadata = {"brand": <verified brand>, "identity_token":
  <the token>}`` (the action server re-verifies the token on every action); visitors get
  the page's declared brand and no token. Whatever metadata the browser sends is dropped.
* **Conversation id.** Always in the ``web:`` namespace, which no other channel can name
  (REST conversations are ``rest:...``, WhatsApp ``whatsapp:...``, staff ``staff:...``).
  Customers: ``web:web-`` + a keyed hash of brand and customer id, stable across devices
  and reconnects, not guessable from the customer id. Visitors: a random server-made
  ``web:anon-...`` id, resumable after a reconnect only with the server-signed ticket
  issued with it. The socket joins the room of that id, which is where Rasa's replies go.
* **Replies.** The socket joins the conversation's room (awaited) before ``session_confirm``
  is emitted, so replies arrive with session persistence on. Each reply carries ``ts``, the
  timestamp of its ``BotUttered`` event; a widget that reconnects sends the last ``ts`` it
  showed (``session_request``: ``last_bot_ts``) and gets the replies it missed while offline
  (read from the tracker store, so they survive a network drop and a server restart).
* **Pages.** The widget (``web/widget/``) and the socket.io client from npm
  (``web/node_modules``) are served by this blueprint under ``/webhooks/chat/``; the demo
  host page and its demo-token endpoint only when ``DEMO_PAGES=1`` at startup.
* **Operators.** An operator's messages and the handoff notices reach the widget through
  :mod:`bot.channels.outbound` (``web:`` conversations): ``bot_uttered`` emitted to the
  conversation's room, stamped like every reply. With ``REDIS_URL`` set the socket.io server
  uses python-socketio's ``AsyncRedisManager``, so an emit on one Rasa replica reaches a
  widget connected to another.
* **Limits.** Messages are checked like every channel's (``with_turn_context``,
  bot/channels/input_guard.py): over ``MAX_MESSAGE_CHARS`` the widget gets the limit as a
  reply and the message goes no further. Allowed origins and demo pages come from
  bot/settings.py, which refuses a production start with wildcard or missing origins.

Logs never hold tokens or message texts.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Dict

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.core.events import BotUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio import exceptions as socketio_errors

from bot.channels import outbound
from bot.channels.turn_context import with_turn_context
from bot.settings import Settings, current
from identity import (
    CUSTOMER_SECRET_ENV,
    ID_RE,
    TOKEN_METADATA_KEY,
    SecretNotConfigured,
    mint_customer_token,
    secret_for,
    verify_token,
)
from identity.brands import BRANDS, default_brand, normalise_brand

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
SOCKETIO_CLIENT = WEB_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
# Only these files are served (no directory walking).
WIDGET_FILES = ("index.html", "chat.js", "chat.css", "page.js", "page.css")
DEMO_FILES = ("index.html", "demo.js", "demo.css")
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}

TICKET_SECRET_ENV = "CHAT_TICKET_SECRET"
DEMO_TOKEN_TTL_MINUTES = 15
NAMESPACE = "web:"  # every conversation of this channel
CUSTOMER_PREFIX = NAMESPACE + "web-"
VISITOR_PREFIX = NAMESPACE + "anon-"
MAX_REPLAYED_REPLIES = 20  # missed replies re-sent after a reconnect, newest kept

# The pages we serve load scripts and styles from here only and talk to this server only.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
ASSET_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    # The insurer's pages load chat.js and chat.css from this server.
    "Cross-Origin-Resource-Policy": "cross-origin",
}
PAGE_HEADERS = {**ASSET_HEADERS, "Content-Security-Policy": PAGE_CSP,
                "Referrer-Policy": "no-referrer"}

# Shown by the widget when the token is refused (socket.io connect_error / auth_error).
REFUSALS = {
    "invalid": "Non riesco a verificare il tuo accesso: ricarica la pagina e accedi di nuovo.",
    "expired": "La sessione dell'Area Clienti è scaduta: ricarica la pagina e accedi di nuovo.",
    "wrong_brand": "Questa chat appartiene a un'altra compagnia: aprila dal sito della tua "
    "compagnia.",
    "unavailable": "Al momento non riesco a verificare il tuo accesso: riprova tra qualche "
    "minuto.",
}


class TokenRefused(socketio_errors.ConnectionRefusedError):
    """Refuses a connection: the client's ``connect_error`` gets the Italian text as
    ``message`` and ``{"code": ...}`` as ``data`` (python-socketio's own exception type, so
    that the reason reaches the browser instead of a generic "Connection refused")."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(REFUSALS[code], {"code": code})


@dataclass(frozen=True)
class ChatSession:
    """What the server knows about one socket, kept in its socket.io session."""

    conversation: str
    brand: str
    token: str | None = None  # the verified customer JWT; None for a visitor
    customer_id: str | None = None
    replayed: bool = False  # missed replies already re-sent to this socket (once is enough)

    @property
    def is_customer(self) -> bool:
        return self.token is not None


# --- keys, conversation ids and visitor tickets ------------------------------------------

_fallback_key: bytes | None = None


def _chat_key() -> bytes:
    """Key for conversation ids and visitor tickets.

    ``CHAT_TICKET_SECRET`` when set, else derived from the customer JWT secret: every Rasa
    replica computes the same ids without one more secret to distribute, and the key is
    never the JWT secret itself.
    """
    configured = os.environ.get(TICKET_SECRET_ENV)
    if configured:
        return configured.encode()
    try:
        base = secret_for(CUSTOMER_SECRET_ENV).encode()
    except SecretNotConfigured:
        global _fallback_key
        if _fallback_key is None:  # customers cannot log in anyway; visitors still chat
            _fallback_key = secrets.token_bytes(32)
        return _fallback_key
    return hmac.new(base, b"area-clienti web chat: conversation ids", hashlib.sha256).digest()


def _mac(message: str) -> str:
    return hmac.new(_chat_key(), message.encode(), hashlib.sha256).hexdigest()


def customer_conversation(brand: str, customer_id: str) -> str:
    """The conversation of a verified customer: stable, and not derivable from the id alone."""
    return CUSTOMER_PREFIX + _mac(f"customer:{brand}:{customer_id}")[:32]


def new_visitor_conversation() -> str:
    return VISITOR_PREFIX + secrets.token_hex(16)


def visitor_ticket(conversation: str) -> str:
    """Lets a visitor's browser (and nobody else) resume its anonymous conversation."""
    return _mac(f"visitor:{conversation}")


def valid_ticket(conversation: Any, ticket: Any) -> bool:
    return (
        isinstance(conversation, str)
        and conversation.startswith(VISITOR_PREFIX)
        and isinstance(ticket, str)
        and hmac.compare_digest(visitor_ticket(conversation), ticket)
    )


# --- the session a connection gets ------------------------------------------------------


def _page_brand(auth: Dict[str, Any]) -> str | None:
    return normalise_brand(auth.get("brand"))


def customer_session(token: Any, page_brand: str | None) -> ChatSession:
    """The session for a customer token, or :class:`TokenRefused` with the reason."""
    identity = verify_token(token)
    if identity.kind != "customer":
        if identity.reason == "expired":
            raise TokenRefused("expired")
        if identity.reason == "not_configured":
            raise TokenRefused("unavailable")
        raise TokenRefused("invalid")  # forged, malformed, a staff or WhatsApp token...
    assert identity.brand is not None and identity.customer_id is not None
    if page_brand is not None and page_brand != identity.brand:
        raise TokenRefused("wrong_brand")
    return ChatSession(
        conversation=customer_conversation(identity.brand, identity.customer_id),
        brand=identity.brand,
        token=token,
        customer_id=identity.customer_id,
    )


def session_for(auth: Any, resumable: bool = True) -> ChatSession:
    """The verified session for the ``auth`` object a client connects with.

    ``{"token": ...}`` -> a customer (or :class:`TokenRefused`); no token -> a visitor with a
    new conversation, or the one named by ``conversation`` when ``ticket`` proves it was
    issued to this browser. ``brand`` is the page's: it must match the token's, and is the
    visitor's brand (else the deployment default).
    """
    auth = auth if isinstance(auth, dict) else {}
    page_brand = _page_brand(auth)
    token = auth.get("token")
    if token:
        return customer_session(token, page_brand)
    conversation = auth.get("conversation")
    if not (resumable and valid_ticket(conversation, auth.get("ticket"))):
        conversation = new_visitor_conversation()
    return ChatSession(conversation=conversation, brand=page_brand or default_brand())


def message_metadata(session: ChatSession) -> Dict[str, Any]:
    """What the bot gets with each message: only what this server verified or chose."""
    metadata: Dict[str, Any] = {"brand": session.brand}
    if session.token:
        metadata[TOKEN_METADATA_KEY] = session.token
    return metadata


# --- static files -------------------------------------------------------------------------


def _file(path: Path, headers: Dict[str, str]) -> HTTPResponse:
    try:
        content = path.read_bytes()
    except OSError:
        log.error("chat page file missing: %s", path)
        return response.text("Non trovato", status=404)
    content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
    return response.raw(content, content_type=f"{content_type}; charset=utf-8",
                        headers=headers)


def _served(folder: Path, allowed: tuple[str, ...], name: str) -> HTTPResponse:
    if name not in allowed:
        return response.text("Non trovato", status=404)
    headers = PAGE_HEADERS if name.endswith(".html") else ASSET_HEADERS
    return _file(folder / name, headers)


# --- the channel --------------------------------------------------------------------------


def client_manager(env: Dict[str, str] | None = None) -> Dict[str, Any]:
    """``client_manager=AsyncRedisManager(REDIS_URL)`` when Redis is configured: emits then
    reach sockets held by any replica (operators' messages). Nothing otherwise."""
    url = ((os.environ if env is None else env).get("REDIS_URL") or "").strip()
    if not url:
        return {}
    from socketio import AsyncRedisManager

    return {"client_manager": AsyncRedisManager(url, channel="area-clienti-chat")}


class StampedSocketIOOutput(SocketIOOutput):
    """Stamps each reply with its ``BotUttered`` timestamp (the widget's replay cursor) and
    the part number: Rasa sends one reply as several messages (paragraphs, then images),
    all with the same timestamp, so ``(ts, part)`` is what identifies a message."""

    def __init__(self, sio: Any, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self._stamp: float | None = None
        self._part = 0

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        stamp = message.get("timestamp")
        self._stamp = float(stamp) if isinstance(stamp, (int, float)) else None
        self._part = 0
        try:
            await super().send_response(recipient_id, message)
        finally:
            self._stamp = None

    async def _send_message(self, socket_id: str, response: Any) -> None:
        if self._stamp is not None and isinstance(response, dict):
            response = {**response, "ts": self._stamp, "part": self._part}
            self._part += 1
        await super()._send_message(socket_id, response)


def replay_cursor(data: Dict[str, Any]) -> float | None:
    """The client's ``last_bot_ts``, when it is a usable number."""
    value = data.get("last_bot_ts")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except (OverflowError, ValueError):
        return None
    return value if 0 < value < float("inf") else None


class VerifiedSocketIOInput(SocketIOInput):
    """socket.io for the website widget, with the customer JWT verified (module docstring).

    ``credentials.yml`` keys are the stock channel's (``user_message_evt``,
    ``bot_message_evt``, ``namespace``, ``session_persistence``, ``socketio_path``); its
    ``jwt_key``/``metadata_key`` are not used: identity comes only from customer tokens
    verified by ``identity/tokens.py``. ``session_persistence: false`` only stops visitors
    from resuming a conversation after a reconnect.
    """

    @classmethod
    def name(cls) -> str:
        return "chat"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=credentials.get("session_persistence", True),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
        )

    def __init__(
        self,
        *args: Any,
        demo_pages: bool | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        self.settings = settings or current()  # bot/settings.py: refused if unsafe
        self.settings.check_startup()
        super().__init__(*args, **kwargs)
        self._app: Any = None  # the Sanic app, for the agent's tracker store (replays)
        # Read once at startup: a running server cannot be switched into demo mode.
        self.demo_pages = self.settings.demo_pages if demo_pages is None else demo_pages

    def get_output_channel(self) -> OutputChannel | None:
        if self.sio is None:
            return None
        return StampedSocketIOOutput(self.sio, self.bot_message_evt)

    # --- socket.io ----------------------------------------------------------------------

    async def _session(self, sid: str) -> ChatSession | None:
        assert self.sio is not None
        data = await self.sio.get_session(sid, namespace=self.namespace)
        return ChatSession(**data) if data else None

    async def _save(self, sid: str, session: ChatSession) -> None:
        assert self.sio is not None
        await self.sio.save_session(sid, asdict(session), namespace=self.namespace)

    async def connect(self, sid: str, environ: Dict[str, Any], auth: Any = None) -> bool:
        """Verify the token before accepting the socket (raises :class:`TokenRefused`)."""
        try:
            session = session_for(auth, resumable=self.session_persistence)
        except TokenRefused as refused:
            log.info("chat connection refused: sid=%s reason=%s", sid, refused.code)
            raise
        await self._save(sid, session)
        log.debug("chat connected: sid=%s customer=%s brand=%s", sid, session.is_customer,
                  session.brand)
        return True

    async def session_request(self, sid: str, data: Any = None) -> None:
        """Join the conversation's room (awaited), then confirm the session to the client."""
        assert self.sio is not None
        session = await self._session(sid)
        if session is None:
            return
        data = data if isinstance(data, dict) else {}
        if not session.is_customer and data.get("token"):
            # For clients that cannot pass socket.io `auth`: the token in the first request.
            try:
                session = customer_session(data["token"], _page_brand(data) or session.brand)
            except TokenRefused as refused:
                log.info("chat session refused: sid=%s reason=%s", sid, refused.code)
                await self.sio.emit("auth_error",
                                    {"code": refused.code, "message": REFUSALS[refused.code]},
                                    room=sid, namespace=self.namespace)
                await self.sio.disconnect(sid, namespace=self.namespace)
                return
            await self._save(sid, session)
        await self.sio.enter_room(sid, session.conversation, namespace=self.namespace)
        confirm: Dict[str, Any] = {
            "session_id": session.conversation,
            "customer": session.is_customer,
            "brand": session.brand,
        }
        if not session.is_customer and self.session_persistence:
            confirm["ticket"] = visitor_ticket(session.conversation)
        await self.sio.emit("session_confirm", confirm, room=sid, namespace=self.namespace)
        since = replay_cursor(data)
        if since is not None and not session.replayed:
            await self._save(sid, replace(session, replayed=True))
            await self.replay(sid, session.conversation, since)

    async def replay(self, sid: str, conversation: str, since: float) -> None:
        """Re-send to this socket only the replies of its conversation newer than ``since``."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        store = getattr(agent, "tracker_store", None)
        if store is None:
            return
        lock_store = getattr(agent, "lock_store", None)
        # A turn still running has sent replies it has not saved yet: wait for it.
        turn_done = lock_store.lock(conversation) if lock_store is not None else nullcontext()
        try:
            async with turn_done:
                tracker = await store.retrieve(conversation)
            if tracker is None:
                return
            missed = [e for e in tracker.events
                      if isinstance(e, BotUttered) and (e.timestamp or 0) > since]
            output = StampedSocketIOOutput(self.sio, self.bot_message_evt)
            for event in missed[-MAX_REPLAYED_REPLIES:]:
                await output.send_response(sid, event.message())
        except Exception:  # a replay must never cost the session itself
            log.exception("chat replay failed: sid=%s", sid)
            return
        if missed:
            log.info("chat replay: sid=%s replies=%d", sid, min(len(missed), MAX_REPLAYED_REPLIES))

    async def user_message(
        self, sid: str, data: Any, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Pass the text on with server-made metadata; the client's metadata is ignored."""
        assert self.sio is not None
        session = await self._session(sid)
        text = data.get("message") if isinstance(data, dict) else None
        if session is None or not isinstance(text, str) or not text.strip():
            return
        if session.token and verify_token(session.token).kind != "customer":
            # Expired since connect: the widget reconnects with a fresh token and resends.
            await self.sio.emit("auth_error", {"code": "expired", "message": REFUSALS["expired"]},
                                room=sid, namespace=self.namespace)
            return
        # Also for clients that skipped session_request: replies go to this room.
        await self.sio.enter_room(sid, session.conversation, namespace=self.namespace)
        message = UserMessage(
            text,  # checked and trimmed by with_turn_context (one limit for every channel)
            StampedSocketIOOutput(self.sio, self.bot_message_evt),
            session.conversation,
            input_channel=self.name(),
            metadata=message_metadata(session),
        )
        await on_new_message(message)

    async def deliver(self, conversation: str, text: str, ts: float,
                      who: str = "system", state: str = "held") -> bool:
        """A message no turn asked for (an operator's) to the conversation's room, stamped
        like a reply (the replay cursor); ``sender: "operator"`` lets the widget label it,
        ``handoff`` (waiting, held, assistant) tells it who answers next."""
        if self.sio is None:
            return False
        message: Dict[str, Any] = {"text": text, "ts": ts, "part": 0, "handoff": state}
        if who == "operator":
            message["sender"] = "operator"
        await self.sio.emit(self.bot_message_evt, message, room=conversation,
                            namespace=self.namespace)
        return True

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        on_new_message = with_turn_context(
            on_new_message, max_chars=self.settings.max_message_chars)
        # [] = no Origin check (Rasa's default): any page may open the socket, which is
        # harmless without a valid token; development only. Production: the insurers' sites
        # (bot/settings.py refuses to start without them).
        sio = AsyncServer(async_mode="sanic",
                          cors_allowed_origins=list(self.settings.allowed_origins),
                          **client_manager())
        self.sio = sio  # get_output_channel() uses it
        outbound.register(NAMESPACE, self.deliver)
        hook = SocketBlueprint(sio, self.socketio_path, "chat_webhook", __name__)

        @hook.listener("before_server_start")
        async def keep_app(app: Any, *_: Any) -> None:
            self._app = app
        sio.on("connect", self.connect, namespace=self.namespace)
        sio.on("session_request", self.session_request, namespace=self.namespace)

        async def handle_message(sid: str, data: Any) -> None:
            await self.user_message(sid, data, on_new_message)

        sio.on(self.user_message_evt, handle_message, namespace=self.namespace)
        self._routes(hook)
        return hook

    # --- HTTP ---------------------------------------------------------------------------

    def _routes(self, hook: Blueprint) -> None:
        widget_dir, demo_dir = WEB_DIR / "widget", WEB_DIR / "demo"

        @hook.route("/", methods=["GET"])
        async def index(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect(request.path + "/", status=308)
            # Development: the demo host page. Otherwise the chat page for visitors.
            if self.demo_pages:
                return _served(demo_dir, DEMO_FILES, "index.html")
            return _served(widget_dir, WIDGET_FILES, "index.html")

        @hook.route("/widget/", methods=["GET"])
        async def widget_page(_: Request) -> HTTPResponse:
            return _served(widget_dir, WIDGET_FILES, "index.html")

        @hook.route("/widget/<name:str>", methods=["GET"])
        async def widget(_: Request, name: str) -> HTTPResponse:
            return _served(widget_dir, WIDGET_FILES, name or "index.html")

        @hook.route("/vendor/socket.io.min.js", methods=["GET"])
        async def socketio_client(_: Request) -> HTTPResponse:
            if not SOCKETIO_CLIENT.is_file():
                return response.text("socket.io-client non installato: scripts/setup_web.sh",
                                     status=503)
            return _file(SOCKETIO_CLIENT, ASSET_HEADERS)

        @hook.route("/demo/<name:str>", methods=["GET"])
        async def demo(_: Request, name: str) -> HTTPResponse:
            if not self.demo_pages:
                return response.text("Non trovato", status=404)
            return _served(demo_dir, DEMO_FILES, name or "index.html")

        @hook.route("/demo-token", methods=["GET"])
        async def demo_token(request: Request) -> HTTPResponse:
            return self.demo_token(request)

    def demo_token(self, request: Request) -> HTTPResponse:
        """Development only: the token the insurer's page would hold for a logged-in customer
        (``?customer=1&brand=alleanza``; ``&expired=1`` for an expired one)."""
        if not self.demo_pages:
            return response.json({"error": "demo_disabled"}, status=404)
        customer = request.args.get("customer", "")
        brand = normalise_brand(request.args.get("brand"))
        if not ID_RE.match(customer) or brand not in BRANDS:
            return response.json(
                {"error": "bad_request", "message": "Servono customer (id) e brand."},
                status=400)
        ttl = -5 if request.args.get("expired") == "1" else DEMO_TOKEN_TTL_MINUTES
        token = mint_customer_token(customer, brand, ttl_minutes=ttl)
        log.info("demo customer token minted: customer=%s brand=%s", customer, brand)
        return response.json({"token": token, "expires_in": ttl * 60},
                             headers={"Cache-Control": "no-store"})
