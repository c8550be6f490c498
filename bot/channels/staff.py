"""Agency staff channel: the staff page and its webhook, authenticated by a staff JWT.

Routes (Rasa mounts the blueprint under ``/webhooks/staff``):

* ``GET /webhooks/staff/`` - the staff page (``web/staff/``: ``index.html``, ``staff.js``,
  ``staff.css``), served from this process so it needs no other web server and no CDN.
* ``POST /webhooks/staff/webhook`` - ``{"message": "..."}`` with
  ``Authorization: Bearer <staff JWT>``; answers ``{"conversation_id", "staff",
  "messages"}`` where ``messages`` are the bot's replies as the REST channel collects them
  (``text``, ``buttons``, ``custom``: the staff lookup's tables come as ``custom``).
* ``GET /webhooks/staff/me`` - who the bearer token says the caller is (``staff``,
  ``expires_at``), or the same 401/403 as the webhook: the page checks a token at login.
* ``GET /webhooks/staff/demo-token?agency=AL-MI-001`` - development only, when the
  environment has ``DEMO_PAGES=1`` at startup (otherwise 404; bot/settings.py refuses it in
  production): a short-lived demo staff token minted by ``identity/minting.py``, as
  ``scripts/mint_token.py`` mints it, so the page can be tried locally.

Why the channel checks the token although the action server checks it again: a wrong or
expired token is answered at once with a 401 and an Italian message the page can show,
and the conversation id can only be derived from a verified identity. The conversation id
is ``staff:<agency>:<staff id>``, never chosen by the client, so one staff member cannot
read or continue another's conversation, and no other channel can name it (each channel
has its own prefix). A message longer than ``MAX_MESSAGE_CHARS`` is answered, like on
every channel, with the limit (bot/channels/input_guard.py) and not processed; only a body
too large to be a chat message at all gets a 413. The token is passed on unchanged in the message
metadata (``identity_token``), so the action server re-verifies it on every action
(``identity/tokens.py``); ``brand`` comes from the agency code's prefix (``AL-`` Alleanza,
``CV-`` CA Vita), else the deployment default. Nothing else the client sends reaches
the metadata.

Logs never hold the token or the message text (which holds fiscal codes and phone numbers).
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels.turn_context import with_turn_context
from bot.settings import Settings, current
from brand_registry import brand_for_prefix
from identity import (
    AGENCY_RE,
    ID_RE,
    STAFF_ROLES,
    TOKEN_METADATA_KEY,
    Identity,
    mint_staff_token,
    verify_token,
)
from identity.brands import default_brand

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PAGE_DIR = ROOT / "web" / "staff"
PAGE_FILES = ("index.html", "staff.js", "staff.css")  # nothing else is served
DEMO_TOKEN_TTL_MINUTES = 30
MAX_BODY_BYTES = 16 * 1024  # at least; more when MAX_MESSAGE_CHARS allows longer messages

# Machine-readable code -> Italian text for the page.
ERRORS = {
    "missing_token": "Accesso richiesto: effettua l'accesso come personale di agenzia.",
    "token_expired": "La sessione è scaduta: effettua di nuovo l'accesso.",
    "invalid_token": "Credenziali non valide: effettua di nuovo l'accesso.",
    "not_staff": "Questa pagina è riservata al personale di agenzia.",
    "invalid_request": "Richiesta non valida: invia un messaggio di testo.",
    "empty_message": "Scrivi la tua richiesta prima di inviarla.",
    "message_too_long": "Il messaggio è troppo lungo: scrivilo in breve, per favore.",
    "demo_disabled": "Pagina non trovata.",
    "invalid_demo_request": "Parametri non validi: indica un'agenzia come AL-MI-001.",
    "not_found": "Pagina non trovata.",
    "internal_error": "Si è verificato un problema tecnico: riprova tra qualche istante.",
}

_BEARER_RE = re.compile(r"^Bearer ([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)$")

# The page loads only its own files; responses are never cached (they hold personal data).
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
API_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def error(status: int, code: str, headers: dict[str, str] | None = None) -> HTTPResponse:
    """``{"error": {"code", "message"}}`` with the Italian message for the page."""
    return response.json(
        {"error": {"code": code, "message": ERRORS[code]}},
        status=status,
        headers={**API_HEADERS, **(headers or {})},
    )


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header that has a JWT's shape, else None."""
    header = request.headers.get("Authorization") or ""
    match = _BEARER_RE.match(header.strip())
    return match.group(1) if match else None


def brand_for_agency(agency: str | None) -> str:
    """The insurer of an agency, from its code's prefix; otherwise the deployment default."""
    return brand_for_prefix(agency or "") if agency and brand_for_prefix(agency) else (
        default_brand())


def conversation_id(identity: Identity) -> str:
    """From the verified token only: one conversation per staff member and agency."""
    return f"staff:{identity.agency}:{identity.staff_id}"


def staff_out(identity: Identity) -> dict[str, Any]:
    return {"id": identity.staff_id, "agency": identity.agency, "role": identity.role}


def authenticate(request: Request) -> tuple[Identity | None, str | None, HTTPResponse | None]:
    """(staff identity, token, None) or (None, None, the 401/403 to send)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="staff"'}
    if not (request.headers.get("Authorization") or "").strip():
        return None, None, error(401, "missing_token", challenge)
    token = bearer_token(request)
    if token is None:
        return None, None, error(401, "invalid_token", challenge)
    identity = verify_token(token)
    if identity.kind == "staff" and identity.staff_id and identity.agency:
        return identity, token, None
    if not identity.is_anonymous:  # a valid customer or WhatsApp token: wrong audience here
        return None, None, error(403, "not_staff")
    code = "token_expired" if identity.reason == "expired" else "invalid_token"
    return None, None, error(401, code, challenge)


class StaffInput(InputChannel):
    """The staff page and its webhook (``/webhooks/staff/``); see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return "staff"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # credentials.yml may name another page directory; secrets come from the environment.
        page_dir = (credentials or {}).get("page_dir")
        return cls(page_dir=Path(page_dir) if page_dir else None)

    def __init__(
        self,
        page_dir: Path | None = None,
        demo_pages: bool | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or current()  # bot/settings.py: refused if unsafe
        self.settings.check_startup()
        self.page_dir = page_dir or DEFAULT_PAGE_DIR
        # Read once at startup: a running server cannot be switched into demo mode.
        self.demo_pages = self.settings.demo_pages if demo_pages is None else demo_pages
        # A JSON string may spend up to 6 bytes per character (\uXXXX escapes).
        self.max_body_bytes = max(MAX_BODY_BYTES, 6 * self.settings.max_message_chars + 1024)

    # --- the turn ---------------------------------------------------------------------

    async def handle_message(
        self,
        request: Request,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
    ) -> HTTPResponse:
        identity, token, refusal = authenticate(request)
        if refusal is not None:
            return refusal
        assert identity is not None and token is not None
        text = self._message_text(request)
        if isinstance(text, HTTPResponse):
            return text
        sender = conversation_id(identity)
        collector = CollectingOutputChannel()
        metadata = {TOKEN_METADATA_KEY: token, "brand": brand_for_agency(identity.agency)}
        try:
            await on_new_message(
                UserMessage(text, collector, sender, input_channel=self.name(),
                            metadata=metadata)
            )
        except Exception:  # the trace goes to the log; the page gets a short Italian text
            log.exception("staff turn failed (staff=%s agency=%s)",
                          identity.staff_id, identity.agency)
            return error(500, "internal_error")
        log.info("staff turn: staff=%s agency=%s, %d replies",
                 identity.staff_id, identity.agency, len(collector.messages))
        messages = [{k: v for k, v in m.items() if k != "recipient_id"}
                    for m in collector.messages]
        return response.json(
            {
                "conversation_id": sender,
                "staff": staff_out(identity),
                "messages": messages,
            },
            headers=API_HEADERS,
        )

    def _message_text(self, request: Request) -> str | HTTPResponse:
        if len(request.body or b"") > self.max_body_bytes:
            return error(413, "message_too_long")
        try:
            body = request.json
        except Exception:  # sanic raises InvalidUsage for malformed JSON
            return error(400, "invalid_request")
        if not isinstance(body, dict) or not isinstance(body.get("message"), str):
            return error(400, "invalid_request")
        text = body["message"].strip()
        if not text:
            return error(400, "empty_message")
        return text  # longer than MAX_MESSAGE_CHARS: answered by with_turn_context

    # --- page and demo token ------------------------------------------------------------

    def page_file(self, name: str) -> HTTPResponse:
        if name not in PAGE_FILES:
            return error(404, "not_found")
        path = self.page_dir / name
        try:
            content = path.read_bytes()
        except OSError:
            log.error("staff page file missing: %s", path)
            return error(404, "not_found")
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return response.raw(content, content_type=content_type, headers=PAGE_HEADERS)

    def demo_token(self, request: Request) -> HTTPResponse:
        if not self.demo_pages:
            return error(404, "demo_disabled")
        agency = request.args.get("agency", "AL-MI-001")
        staff_id = request.args.get("staff_id", "S-DEMO")
        role = request.args.get("role", STAFF_ROLES[0])
        if not AGENCY_RE.match(agency) or not ID_RE.match(staff_id) or role not in STAFF_ROLES:
            return error(400, "invalid_demo_request")
        token = mint_staff_token(staff_id, role, agency, DEMO_TOKEN_TTL_MINUTES)
        log.info("demo staff token minted: staff=%s agency=%s", staff_id, agency)
        return response.json(
            {"token": token, "staff_id": staff_id, "agency": agency, "role": role,
             "expires_in": DEMO_TOKEN_TTL_MINUTES * 60},
            headers=API_HEADERS,
        )

    # --- HTTP -------------------------------------------------------------------------

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = with_turn_context(
            on_new_message, max_chars=self.settings.max_message_chars)
        hook = Blueprint("staff_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def page(request: Request) -> HTTPResponse:
            if not request.path.endswith("/"):
                # Relative asset URLs in the page need the trailing slash.
                return response.redirect(request.path + "/", status=308)
            return self.page_file("index.html")

        @hook.route("/me", methods=["GET"])
        async def me(request: Request) -> HTTPResponse:
            identity, _token, refusal = authenticate(request)
            if refusal is not None:
                return refusal
            assert identity is not None
            return response.json(
                {"staff": staff_out(identity), "expires_at": identity.expires_at},
                headers=API_HEADERS,
            )

        @hook.route("/demo-token", methods=["GET"])
        async def demo(request: Request) -> HTTPResponse:
            return self.demo_token(request)

        @hook.route("/<name:str>", methods=["GET"])
        async def asset(_: Request, name: str) -> HTTPResponse:
            # Sanic routes ".../staff/" here with an empty name: that is the page itself.
            return self.page_file(name or "index.html")

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                return await self.handle_message(request, on_new_message)
            except Exception:  # a bug of ours: never a stack trace to the page
                log.exception("staff webhook failed")
                return error(500, "internal_error")

        return hook
