"""The operators' console: a page and a JSON API under ``/webhooks/operators/``.

Every API call carries ``Authorization: Bearer <operator JWT>`` (identity/operators.py: id,
role, brands) and sees only the conversations of the operator's brands. Routes:

* ``GET /`` (and ``operators.js``, ``operators.css``, the staff page's ``staff.css``): the
  console (``web/operators/``).
* ``GET /me``: who the token says the caller is.
* ``GET /queue``: the waiting conversations of the operator's brands (position, channel,
  identity level, reason, wait), those the operator holds, and the callback requests. It is
  also the heartbeat: an operator is online while the console asks (handoff/presence.py).
* ``GET /conversation?id=...&since=N``: the masked transcript from event N on (the console
  polls it every second), the request's status and, on WhatsApp, whether the 24-hour window
  is still open.
* ``POST /take``, ``/send``, ``/handback``, ``/close`` with ``{"conversation_id", "text"}``:
  take a waiting conversation (atomic: of two operators one gets 409 ``already_taken``),
  write to the customer, give the conversation back to the assistant, end it.
* ``POST /logout``: offline at once. ``GET /demo-token``: only with ``DEMO_PAGES=1`` (never
  in production, bot/settings.py), a demo operator token as scripts/mint_token.py mints it.

Why polling and not a socket: one request a second per operator is nothing for this load,
works through any proxy, and keeps every replica stateless (the queue and the trackers are
shared); the customer side already has its socket.io connection.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import handoff_live, outbound
from bot.channels.staff import API_HEADERS, PAGE_HEADERS, bearer_token
from bot.settings import Settings, current
from handoff.presence import Presence
from handoff.queue import HandoffQueue, HandoffRequest
from handoff.settings import HandoffSettings
from handoff.states import Status
from handoff.transcript import transcript
from identity.brands import BRANDS
from identity.operators import (
    OPERATOR_ROLES,
    Operator,
    mint_operator_token,
    verify_operator_token,
)

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
PAGE_DIR = ROOT / "web" / "operators"
# name -> (file, type); the console wears the staff page's look from the staff page's own
# stylesheet, and operators.css adds only the console's parts
PAGE_FILES = {"index.html": (PAGE_DIR / "index.html", "text/html"),
              "operators.js": (PAGE_DIR / "operators.js", "text/javascript"),
              "operators.css": (PAGE_DIR / "operators.css", "text/css"),
              "staff.css": (ROOT / "web" / "staff" / "staff.css", "text/css")}
DEMO_TTL_MINUTES = 60
MAX_TEXT_CHARS = 1600  # one WhatsApp message

ERRORS = {
    "missing_token": (401, "Accesso richiesto: effettua l'accesso come operatore."),
    "token_expired": (401, "La sessione è scaduta: effettua di nuovo l'accesso."),
    "invalid_token": (401, "Credenziali non valide: effettua di nuovo l'accesso."),
    "invalid_request": (400, "Richiesta non valida."),
    "empty_message": (400, "Scrivi il messaggio prima di inviarlo."),
    "message_too_long": (400, "Il messaggio è troppo lungo (massimo 1600 caratteri)."),
    "not_found": (404, "Conversazione non trovata o non di tua competenza."),
    "already_taken": (409, "Un altro operatore ha già preso in carico questa conversazione."),
    "not_yours": (409, "Questa conversazione non è (più) in carico a te."),
    "whatsapp_window": (409, "Non posso inviare: su WhatsApp si può rispondere liberamente solo "
                             "entro 24 ore dall'ultimo messaggio del cliente. Proponi un "
                             "ricontatto telefonico o chiudi la conversazione."),
    "not_delivered": (502, "Messaggio salvato nella conversazione ma non recapitato al "
                           "cliente: riprova tra poco."),
    "demo_disabled": (404, "Pagina non trovata."),
}


def error(code: str) -> HTTPResponse:
    status, message = ERRORS[code]
    return response.json({"error": {"code": code, "message": message}}, status=status,
                         headers=API_HEADERS)


def authenticate(request: Request) -> Operator | HTTPResponse:
    if not (request.headers.get("Authorization") or "").strip():
        return error("missing_token")
    verified = verify_operator_token(bearer_token(request))
    if isinstance(verified, Operator):
        return verified
    return error("token_expired" if verified.reason == "expired" else "invalid_token")


def request_out(req: HandoffRequest, now: float, position: int | None = None) -> dict[str, Any]:
    out = {"conversation_id": req.conversation_id, "channel": req.channel, "brand": req.brand,
           "identity_level": req.identity_level.value, "reason": req.reason.value,
           "status": req.status.value, "operator_id": req.operator_id,
           "created_at": req.created_at.isoformat(),
           "waiting_seconds": max(0, round(now - req.created_at.timestamp()))}
    if position is not None:
        out["position"] = position
    return out


class OperatorsInput(InputChannel):
    """The operators' console (module docstring); it receives no customer messages."""

    @classmethod
    def name(cls) -> str:
        return "operators"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, settings: Settings | None = None,
                 handoff: HandoffSettings | None = None) -> None:
        self.settings = settings or current()
        self.settings.check_startup()
        self.handoff = handoff or HandoffSettings.from_env()
        self.queue = HandoffQueue(self.handoff.database_url)
        self.presence = Presence(self.handoff.database_url,
                                 online_seconds=self.handoff.online_seconds)

    # --- helpers ----------------------------------------------------------------------

    def _mine(self, operator: Operator, conversation: Any) -> HandoffRequest | None:
        """The open request of a conversation of the operator's brands, else None."""
        if not isinstance(conversation, str) or not conversation:
            return None
        req = self.queue.active(conversation)
        return req if req is not None and operator.serves(req.brand) else None

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        try:
            body = request.json
        except Exception:
            return {}
        return body if isinstance(body, dict) else {}

    # --- API --------------------------------------------------------------------------

    async def queue_view(self, operator: Operator) -> HTTPResponse:
        await asyncio.to_thread(self.presence.seen, operator.operator_id, operator.brands)
        now = time.time()
        waiting = [request_out(e.request, now, e.position)
                   for e in await asyncio.to_thread(self.queue.waiting)
                   if operator.serves(e.request.brand)]
        held = await asyncio.to_thread(self.queue.held_by, operator.operator_id)
        callbacks = [{"conversation_id": c.conversation_id, "channel": c.channel,
                      "brand": c.brand, "identity_level": c.identity_level,
                      "summary": c.summary, "created_at": c.created_at.isoformat()}
                     for c in await asyncio.to_thread(self.presence.callbacks)
                     if operator.serves(c.brand)]
        return response.json({"operator": operator.operator_id, "waiting": waiting,
                              "mine": [request_out(r, now) for r in held],
                              "callbacks": callbacks[-20:]}, headers=API_HEADERS)

    async def conversation_view(self, app: Any, operator: Operator,
                                request: Request) -> HTTPResponse:
        conversation = request.args.get("id")
        req = await asyncio.to_thread(self._mine, operator, conversation)
        if req is None or (req.status is Status.TAKEN and req.operator_id != operator.operator_id):
            return error("not_found")
        try:
            since = max(0, int(request.args.get("since", "0")))
        except ValueError:
            since = 0
        events = await handoff_live.event_dicts(app.ctx.agent, req.conversation_id)
        # The store returns the current session's events: after a new session the console's
        # cursor is past the end, and the transcript starts again from the top.
        reset = since > len(events)
        out: dict[str, Any] = {"request": request_out(req, time.time()),
                               "messages": transcript(events, 0 if reset else since),
                               "next": len(events), "reset": reset,
                               "reachable": outbound.reachable(req.conversation_id)}
        if req.channel == "whatsapp":
            out["whatsapp_window_open"] = not handoff_live.window_closed(events, time.time())
        return response.json(out, headers=API_HEADERS)

    async def act(self, app: Any, operator: Operator, action: str,
                  request: Request) -> HTTPResponse:
        body = self._body(request)
        req = await asyncio.to_thread(self._mine, operator, body.get("conversation_id"))
        if req is None:
            return error("not_found")
        conversation, me = req.conversation_id, operator.operator_id
        agent = app.ctx.agent
        if action == "take":
            if not await asyncio.to_thread(self.queue.take, conversation, me):
                return error("already_taken")
            log.info("handoff: %s took a %s conversation", me, req.channel)
            await handoff_live.tell(agent, conversation, handoff_live.TAKEN_TEXT)
            return response.json({"taken": True}, headers=API_HEADERS)
        if req.status is not Status.TAKEN or req.operator_id != me:
            return error("not_yours")
        if action == "send":
            text = body.get("text")
            if not isinstance(text, str) or not text.strip():
                return error("empty_message")
            if len(text) > MAX_TEXT_CHARS:
                return error("message_too_long")
            sent = await handoff_live.operator_says(agent, conversation, me, text.strip())
            if sent.refused:
                return error(sent.refused)
            if not sent.delivered:
                return error("not_delivered")
            return response.json({"sent": True, "ts": sent.ts}, headers=API_HEADERS)
        end = self.queue.release if action == "handback" else self.queue.close
        if not await asyncio.to_thread(end, conversation, me):
            return error("not_yours")
        text = handoff_live.HANDBACK_TEXT if action == "handback" else handoff_live.CLOSED_TEXT
        await handoff_live.resume(agent, conversation, text)
        log.info("handoff: %s %s a %s conversation", me, action, req.channel)
        return response.json({action: True}, headers=API_HEADERS)

    def demo_token(self, request: Request) -> HTTPResponse:
        if not self.settings.demo_pages or self.settings.production:
            return error("demo_disabled")
        operator_id = request.args.get("operator", "OP-DEMO")
        brands = [b for b in request.args.get("brands", ",".join(BRANDS)).split(",") if b]
        try:
            token = mint_operator_token(operator_id, OPERATOR_ROLES[0], brands,
                                        DEMO_TTL_MINUTES)
        except ValueError:
            return error("invalid_request")
        return response.json({"token": token, "operator": operator_id, "brands": brands},
                             headers=API_HEADERS)

    @staticmethod
    def page(name: str) -> HTTPResponse:
        if name not in PAGE_FILES:
            return error("not_found")
        path, kind = PAGE_FILES[name]
        try:
            content = path.read_bytes()
        except OSError:
            return error("not_found")
        return response.raw(content, content_type=f"{kind}; charset=utf-8",
                            headers=PAGE_HEADERS)

    # --- HTTP -------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("operators_console", __name__)

        def guarded(handler: Callable[..., Awaitable[HTTPResponse]]
                    ) -> Callable[[Request], Awaitable[HTTPResponse]]:
            async def run(request: Request) -> HTTPResponse:
                operator = authenticate(request)
                if isinstance(operator, HTTPResponse):
                    return operator
                try:
                    return await handler(request, operator)
                except Exception:
                    log.exception("operators' console: %s failed", request.path)
                    return response.json({"error": {"code": "internal_error", "message":
                                          "Problema tecnico: riprova tra poco."}}, status=500)
            return run

        @hook.route("/", methods=["GET"])
        async def index(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                return response.redirect(request.path + "/", status=308)
            return self.page("index.html")

        @hook.route("/<name:str>", methods=["GET"])
        async def asset(_: Request, name: str) -> HTTPResponse:
            return self.page(name or "index.html")

        @hook.route("/demo-token", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return self.demo_token(request)

        async def me(_: Request, op: Operator) -> HTTPResponse:
            return response.json({"operator": op.operator_id, "role": op.role,
                                  "brands": list(op.brands), "expires_at": op.expires_at},
                                 headers=API_HEADERS)

        async def queue_route(_: Request, op: Operator) -> HTTPResponse:
            return await self.queue_view(op)

        async def conversation(request: Request, op: Operator) -> HTTPResponse:
            return await self.conversation_view(request.app, op, request)

        async def logout(_: Request, op: Operator) -> HTTPResponse:
            await asyncio.to_thread(self.presence.gone, op.operator_id)
            return response.json({"logged_out": True}, headers=API_HEADERS)

        hook.add_route(guarded(me), "/me", methods=["GET"], name="me")
        hook.add_route(guarded(queue_route), "/queue", methods=["GET"], name="queue")
        hook.add_route(guarded(conversation), "/conversation", methods=["GET"],
                       name="conversation")
        hook.add_route(guarded(logout), "/logout", methods=["POST"], name="logout")
        for action in ("take", "send", "handback", "close"):
            async def acting(request: Request, op: Operator, action: str = action
                             ) -> HTTPResponse:
                return await self.act(request.app, op, action, request)
            hook.add_route(guarded(acting), f"/{action}", methods=["POST"], name=action)
        return hook
