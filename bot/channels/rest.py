"""Rasa's REST channel for local tools and tests, in its own conversation namespace.

Same URL and body as Rasa's own (``POST /webhooks/rest/webhook``), with three differences:

* **Namespace.** The caller still names its ``sender``, but the conversation is
  ``rest:<sender>``: a REST client can never address a WhatsApp (``whatsapp:+39...``),
  widget (``web:...``) or staff (``staff:...``) conversation, whatever it sends. The
  ``input_channel`` is always ``rest``, never the one the body claims.
* **Owner.** A message whose metadata carries a valid identity token goes to
  ``rest:<sender>~<keyed digest of who the token names>``; without one, to
  ``rest:<sender>``. The same sender with another identity (or none: an expired token)
  is another conversation, so nobody reads or changes a form, a summary or a pending
  step-up that somebody else started. Senders may not contain ``~``.
* **Production.** With ``ASSISTANT_ENV=production`` every post needs
  ``Authorization: Bearer <REST_SERVICE_TOKEN>`` (compared in constant time); without a
  configured token the channel is disabled (403). The health check (``GET``) stays open.
* **Turn context.** The message handler is wrapped (bot/channels/turn_context.py), as on
  every other channel: length limit, invalid characters, typed buttons, recent intents.
* **Message ids.** A body may name its message (``"message_id": "..."``); the same id sent
  again (a client's or HAProxy's retry) gets the first answer, not a second turn
  (bot/channels/replayed_turns.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.replayed_turns import MESSAGE_ID_KEY, message_id_of, once_per_message_id
from bot.channels.turn_context import process_agent, with_turn_context
from bot.settings import Settings, current
from identity import (
    CUSTOMER_SECRET_ENV,
    Identity,
    SecretNotConfigured,
    identity_from_metadata,
    secret_for,
)

log = logging.getLogger(__name__)

PREFIX = "rest:"
OWNER_SEPARATOR = "~"
DEFAULT_SENDER = "default"  # Rasa's own id when the body names none
MAX_SENDER_CHARS = 128

# code -> (HTTP status, one-line reason for the caller)
REFUSALS = {
    "rest_disabled": (403, "REST channel disabled in production: REST_SERVICE_TOKEN is not set"),
    "missing_token": (401, "REST channel: Authorization: Bearer <REST_SERVICE_TOKEN> required"),
    "invalid_token": (401, "REST channel: invalid service token"),
    "invalid_request": (400, "the body must be a JSON object"),
    "invalid_sender": (400, f"sender must be a string of at most {MAX_SENDER_CHARS} characters"
                            f" without «{OWNER_SEPARATOR}»"),
}


def owner_digest(identity: Identity) -> str | None:
    """Who a verified identity is, as a short keyed digest (None for anonymous)."""
    if identity.is_anonymous:
        return None
    subject = ":".join(str(part) for part in (
        identity.kind, identity.brand, identity.customer_id, identity.agency,
        identity.staff_id, identity.phone))
    try:
        key = hashlib.sha256(b"rest owner:" + secret_for(CUSTOMER_SECRET_ENV).encode()).digest()
    except SecretNotConfigured:  # no customer can log in; staff and phones still differ
        key = b"rest owner"
    return hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()[:20]


def conversation_id(sender: Any, identity: Identity | None = None) -> str | None:
    """``rest:<sender>`` (missing: Rasa's ``default``), ``~<owner>`` appended for a verified
    identity; None for an unusable sender."""
    if sender is None:
        sender = DEFAULT_SENDER
    if (not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS
            or OWNER_SEPARATOR in sender):
        return None
    owner = owner_digest(identity) if identity is not None else None
    return PREFIX + sender + (OWNER_SEPARATOR + owner if owner else "")


def refusal(settings: Settings, authorization: str | None) -> str | None:
    """Why a post must be refused (a key of :data:`REFUSALS`), or None to accept it."""
    if not settings.production:
        return None
    expected = settings.rest_service_token
    if not expected:
        return "rest_disabled"
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return "missing_token"
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return "invalid_token"
    return None


def refused(code: str) -> HTTPResponse:
    status, reason = REFUSALS[code]
    headers = {"WWW-Authenticate": 'Bearer realm="rest"'} if status == 401 else None
    return response.json({"error": code, "message": reason}, status=status, headers=headers)


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        return cls()

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or current()
        self.settings.check_startup()
        self._app: Any = None  # the Sanic app serving this channel (its agent's tracker store)

    def _agent(self) -> Any:
        """The agent of the app this channel runs in (several apps run in one test process)."""
        agent = getattr(getattr(self._app, "ctx", None), "agent", None)
        return agent if agent is not None else process_agent()

    async def _extract_sender(self, req: Request) -> str | None:
        body = req.json or {}
        return conversation_id(body.get("sender"), identity_from_metadata(body.get("metadata")))

    def _extract_input_channel(self, req: Request) -> str:
        return self.name()

    def get_metadata(self, request: Request) -> dict[str, Any] | None:
        """The body's ``metadata``, plus its ``message_id`` when the client names the message
        (a repeat is then answered from the store: bot/channels/replayed_turns.py)."""
        body = request.json or {}
        metadata = body.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, dict) else None
        message_id = message_id_of({MESSAGE_ID_KEY: body.get(MESSAGE_ID_KEY)})
        if message_id is not None:
            metadata = {**(metadata or {}), MESSAGE_ID_KEY: message_id}
        return metadata

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        hook = super().blueprint(once_per_message_id(with_turn_context(
            on_new_message, agent_of=self._agent, max_chars=self.settings.max_message_chars),
            agent_of=self._agent))

        @hook.listener("before_server_start")
        async def keep_app(app: Any, *_: Any) -> None:
            self._app = app

        @hook.middleware("request")
        async def guard(request: Request) -> HTTPResponse | None:
            # Only the webhook: the health check says nothing about anybody.
            if request.method != "POST":
                return None
            code = refusal(self.settings, request.headers.get("Authorization")) or (
                body_problem(request))
            if code is not None:
                log.warning("REST post refused: %s", code)
                return refused(code)
            return None

        return hook


def body_problem(request: Request) -> str | None:
    """A body Rasa's handler would choke on (a key of :data:`REFUSALS`), or None."""
    try:
        body = request.json
    except Exception:  # sanic raises InvalidUsage for malformed JSON
        return "invalid_request"
    if not isinstance(body, dict):
        return "invalid_request"
    return "invalid_sender" if conversation_id(body.get("sender")) is None else None
