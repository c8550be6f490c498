"""WhatsApp through Twilio: a signed webhook in, the Twilio Messages API out.

``POST /webhooks/whatsapp/webhook`` receives Twilio's form-encoded messages. Nothing is
believed before the ``X-Twilio-Signature`` matches (HMAC of the URL and the form with the
auth token); only then does the channel vouch for the sender's number, by minting the
short-lived identity token that ``identity/tokens.py`` verifies (kind ``whatsapp``, level
"claimed": personal data still needs the OTP step-up). Twilio gets an empty TwiML answer
at once; the turn runs in the background and the replies go out through Twilio's async
client, so a slow model or action never makes Twilio time out and retry.

The conversation id is ``whatsapp:<E.164>`` (Twilio's own address for the sender, made from
the verified ``From``): no other channel can name it (REST conversations are ``rest:...``),
and replies addressed to it go to that phone number. Bodies are checked like every
channel's (bot/channels/input_guard.py, through ``with_turn_context``): invalid characters
removed, too long answered with the limit.

Configuration (environment, read at startup; see docs/channels/whatsapp.md):

* ``TWILIO_AUTH_TOKEN`` - checks the webhook signatures and authenticates the replies;
  ``TWILIO_ACCOUNT_SID``; ``TWILIO_WHATSAPP_FROM`` (``whatsapp:+14155238886``).
* ``TWILIO_API_BASE_URL`` - send the replies to another Twilio-compatible API (the local
  fake, ``backend_stub/fake_twilio.py``) instead of ``https://api.twilio.com``.
* Neither an account SID nor a base URL: development "outbox" mode, replies are appended
  to ``WHATSAPP_OUTBOX_PATH`` (``var/whatsapp_outbox.jsonl``) and signatures are checked
  with the fake server's test token.
* ``WHATSAPP_PUBLIC_URL`` - the URL Twilio calls, when a proxy or ngrok changes it.
* ``WHATSAPP_BRAND`` - the insurer this number belongs to (default
  ``ASSISTANT_DEFAULT_BRAND``).

* ``REDIS_URL`` - keep the seen ``MessageSid``s and the last numbered choices in Redis, so
  that several Rasa replicas behind a load balancer share them (``channel_state.py``);
  without it they live in this process's memory. Turns of one sender keep their order
  within a replica; across replicas Rasa's lock store (Redis too) serialises them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from bot.channels import outbound
from bot.channels.channel_state import ChannelState, channel_state_from_env
from bot.channels.turn_context import with_turn_context
from bot.settings import DEV_TWILIO_AUTH_TOKEN, Settings, current
from identity import (
    CHANNEL_WHATSAPP,
    TOKEN_METADATA_KEY,
    is_e164,
    mask_phone,
    mint_channel_assertion,
)
from identity.brands import BRANDS, DEFAULT_BRAND_ENV, normalise_brand

log = logging.getLogger(__name__)
# The twilio client logs every request at INFO (URL, headers): keep that out of our logs.
logging.getLogger("twilio.async_http_client").setLevel(logging.WARNING)

MAX_BODY_CHARS = 1600  # Twilio refuses longer WhatsApp bodies (error 21617)
TOKEN_TTL_SECONDS = 10 * 60  # one turn; every message gets a fresh token
SEEN_TTL_SECONDS = 24 * 60 * 60
BUTTONS_TTL_SECONDS = 60 * 60
SEND_TIMEOUT_SECONDS = 15.0
MAX_FORM_FIELDS = 200

# The fake Twilio API's test account (backend_stub/fake_twilio.py), used when none is set.
DEV_ACCOUNT_SID = "AC" + "0" * 32
DEV_AUTH_TOKEN = DEV_TWILIO_AUTH_TOKEN  # public: bot/settings.py refuses it in production
DEV_WHATSAPP_FROM = "whatsapp:+14155238886"  # Twilio's WhatsApp sandbox number
DEFAULT_OUTBOX = "var/whatsapp_outbox.jsonl"
PREFIX = "whatsapp:"

TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response/>'

MEDIA_REPLY = (
    "Grazie per il file! Purtroppo qui in chat non riesco ad aprire foto, documenti o "
    "messaggi vocali. Puoi scrivermi la tua domanda a parole? Ti aiuto volentieri."
)
LOCATION_REPLY = (
    "Grazie, ho ricevuto la posizione, ma non posso utilizzarla. Se mi scrivi a parole "
    "di cosa hai bisogno, ti aiuto volentieri."
)
ERROR_REPLY = (
    "Scusa, in questo momento ho un problema tecnico e non riesco a risponderti. "
    "Riprova tra qualche minuto, per favore."
)
CHOICE_PROMPT = "Rispondi con il numero dell'opzione che preferisci."


# --- configuration -------------------------------------------------------------------


@dataclass(frozen=True)
class WhatsAppSettings:
    """Everything the channel reads from the environment, resolved once at startup."""

    auth_token: str = DEV_AUTH_TOKEN
    account_sid: str = DEV_ACCOUNT_SID
    sender: str = DEV_WHATSAPP_FROM
    mode: str = "outbox"  # "outbox" (development) or "twilio" (real or fake API)
    api_base_url: str | None = None
    public_url: str | None = None
    brand: str = BRANDS[0]
    outbox_path: Path = Path(DEFAULT_OUTBOX)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WhatsAppSettings:
        """Resolve the settings; a half-configured Twilio account fails loudly here."""
        env = os.environ if env is None else env
        sid = env.get("TWILIO_ACCOUNT_SID") or None
        token = env.get("TWILIO_AUTH_TOKEN") or None
        base_url = (env.get("TWILIO_API_BASE_URL") or "").rstrip("/") or None
        if (sid or token) and not (sid and token) and not base_url:
            raise ValueError("WhatsApp: set both TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        # The number's own brand, else the deployment default (as identity/brands.py reads it).
        brand_env = "WHATSAPP_BRAND" if env.get("WHATSAPP_BRAND") else DEFAULT_BRAND_ENV
        brand_setting = env.get(brand_env) or BRANDS[0]
        brand = normalise_brand(brand_setting)
        if brand is None:
            raise ValueError(f"{brand_env}={brand_setting!r} is not one of {', '.join(BRANDS)}")
        return cls(
            auth_token=token or DEV_AUTH_TOKEN,
            account_sid=sid or DEV_ACCOUNT_SID,
            sender=_with_prefix(env.get("TWILIO_WHATSAPP_FROM") or DEV_WHATSAPP_FROM),
            mode="twilio" if (sid or base_url) else "outbox",
            api_base_url=base_url,
            public_url=env.get("WHATSAPP_PUBLIC_URL") or None,
            brand=brand,
            outbox_path=Path(env.get("WHATSAPP_OUTBOX_PATH") or DEFAULT_OUTBOX),
        )


def _with_prefix(number: str) -> str:
    number = number.strip()
    return number if number.startswith(PREFIX) else PREFIX + number


def conversation_id(phone: str) -> str:
    """``whatsapp:<E.164>``: the sender's conversation, which is also its Twilio address."""
    return _with_prefix(phone)


# --- small helpers -------------------------------------------------------------------

# "1." of a numbered list is not a sentence end; "nel 2024." is.
_SENTENCE_END = re.compile(r"(?<!\b\d)[.!?…][\"'»)\]]*(?=\s)|\n")


def split_message(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Cut ``text`` into bodies of at most ``limit`` chars, at sentence ends if possible.

    Falls back to the last space, then to a hard cut; line breaks inside a part are kept.
    """
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        ends = [m.end() for m in _SENTENCE_END.finditer(window) if m.end() <= limit]
        cut = ends[-1] if ends else window.rfind(" ")
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def numbered_choices(text: str, buttons: list[dict[str, Any]]) -> str:
    """The buttons as a numbered list under the text (WhatsApp has no Rasa buttons)."""
    lines = [f"{i}. {b.get('title') or b.get('payload')}" for i, b in enumerate(buttons, 1)]
    head = f"{text.strip()}\n\n" if text and text.strip() else ""
    return head + "\n".join(lines) + f"\n\n{CHOICE_PROMPT}"


_CHOICE_RE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def chosen_payload(text: str, buttons: list[tuple[str, str]]) -> str | None:
    """The payload of the button the user picked by number (or exact title), if any."""
    match = _CHOICE_RE.match(text)
    if match:
        index = int(match.group(1))
        return buttons[index - 1][1] if 1 <= index <= len(buttons) else None
    typed = text.strip().casefold()
    return next((payload for title, payload in buttons if title.casefold() == typed), None)


def mint_identity_token(
    phone: str, brand: str | None, ttl: int = TOKEN_TTL_SECONDS, now: float | None = None
) -> str:
    """The channel's assertion "this message came from ``phone``" for the action server
    (signed by identity/minting.py, like every identity token)."""
    return mint_channel_assertion(phone, ttl / 60, brand=brand or None, now=now)


# --- sending -------------------------------------------------------------------------


class Sender(Protocol):
    """Delivers one WhatsApp message; never raises, returns whether it was accepted."""

    async def send(self, to: str, body: str, media_url: str | None = None) -> bool: ...

    async def close(self) -> None: ...


class TwilioSender:
    """Twilio's own async client, optionally pointed at another base URL (the fake API)."""

    def __init__(self, settings: WhatsAppSettings, timeout: float = SEND_TIMEOUT_SECONDS):
        self.settings, self.timeout = settings, timeout
        self._client: Any = None
        self._http: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_client(self) -> Any:
        # Built lazily inside the server's loop: aiohttp sessions are bound to one loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            from twilio.http.async_http_client import AsyncTwilioHttpClient
            from twilio.rest import Client

            self._http = AsyncTwilioHttpClient()
            # environment={}: TWILIO_EDGE/TWILIO_REGION must not rewrite the host below.
            self._client = Client(
                self.settings.account_sid,
                self.settings.auth_token,
                http_client=self._http,
                environment={},
            )
            if self.settings.api_base_url:
                # twilio 8 builds each URL from the domain's base_url at request time.
                self._client.api.base_url = self.settings.api_base_url
            self._loop = loop
        return self._client

    async def send(self, to: str, body: str, media_url: str | None = None) -> bool:
        extra: dict[str, Any] = {"media_url": [media_url]} if media_url else {}
        try:
            message = await asyncio.wait_for(
                self._get_client().messages.create_async(
                    to=to, from_=self.settings.sender, body=body, **extra
                ),
                self.timeout,
            )
        except Exception as exc:  # API down, refused, timeout: the turn must go on
            log.warning("WhatsApp reply to %s not sent: %s %s", _masked(to),
                        type(exc).__name__, getattr(exc, "code", "") or "")
            return False
        log.info("WhatsApp reply to %s accepted as %s", _masked(to), message.sid)
        return True

    async def close(self) -> None:
        if self._http is not None and self._loop is asyncio.get_running_loop():
            await self._http.close()
        self._client = self._http = self._loop = None


class OutboxSender:
    """Development: the outbox file stands for the customer's phone (JSON lines)."""

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.path, self.sender = settings.outbox_path, settings.sender

    def _append(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(record, ensure_ascii=False) + "\n")

    async def send(self, to: str, body: str, media_url: str | None = None) -> bool:
        record = {"to": to, "from": self.sender, "body": body, "media_url": media_url,
                  "sent_at": datetime.now(timezone.utc).isoformat()}
        try:
            await asyncio.to_thread(self._append, record)
        except OSError as exc:
            log.warning("WhatsApp outbox %s not writable: %s", self.path, exc)
            return False
        log.info("WhatsApp reply (outbox) to %s, %d chars", _masked(to), len(body))
        return True

    async def close(self) -> None:
        return None


def make_sender(settings: WhatsAppSettings) -> Sender:
    return TwilioSender(settings) if settings.mode == "twilio" else OutboxSender(settings)


def _masked(address: str) -> str:
    return mask_phone(address.removeprefix(PREFIX))


class WhatsAppOutput(OutputChannel):
    """Bot messages to one WhatsApp user: split to Twilio's limit, buttons as numbers."""

    def __init__(self, sender: Sender, state: ChannelState):
        self.sender, self.state = sender, state

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    async def _deliver(self, recipient_id: str, text: str) -> bool:
        # recipient_id is the conversation id, ``whatsapp:+39...``: Twilio's address as well.
        for part in split_message(text):
            if not await self.sender.send(_with_prefix(recipient_id), part):
                return False  # the API is failing: the rest would only fail as well
        return True

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._deliver(recipient_id, text)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        if await self._deliver(recipient_id, numbered_choices(text, buttons)):
            options = [(str(b.get("title") or ""), str(b.get("payload") or b.get("title")))
                       for b in buttons]
            await self.state.put_choices(_with_prefix(recipient_id), options,
                                         BUTTONS_TTL_SECONDS)

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self.sender.send(_with_prefix(recipient_id), "", media_url=image)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        # Custom payloads are meant for the web widget; a raw JSON dump helps nobody here.
        text = json_message.get("text") if isinstance(json_message, dict) else None
        if isinstance(text, str) and text:
            await self._deliver(recipient_id, text)


# --- the input channel ---------------------------------------------------------------


class BadRequest(ValueError):
    """The post is not a usable Twilio message (answered with 400 and this text)."""


class _Form(dict):
    """Form fields as lists, with the ``getlist`` that RequestValidator looks for."""

    def getlist(self, name: str) -> list[str]:
        return self[name]

    def first(self, name: str) -> str:
        values = self.get(name) or [""]
        return values[0]


@dataclass(frozen=True)
class Inbound:
    """One verified WhatsApp message, reduced to what the assistant uses."""

    message_sid: str
    phone: str  # E.164; the conversation is whatsapp:<phone>
    body: str
    num_media: int
    location: bool
    profile_name: str | None = None


def parse_form(request: Request) -> _Form:
    content_type = (request.content_type or "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise BadRequest("expected application/x-www-form-urlencoded")
    try:
        text = (request.body or b"").decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text),
                          max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("malformed form body") from None
    return _Form(fields)


def inbound_from_form(form: _Form) -> Inbound:
    """Read a verified form; raises BadRequest when it is not a WhatsApp message."""
    sid = form.first("MessageSid") or form.first("SmsMessageSid")
    sender = form.first("From")
    phone = sender.removeprefix(PREFIX)
    if not sid:
        raise BadRequest("missing MessageSid")
    if not sender.startswith(PREFIX) or not is_e164(phone):
        raise BadRequest("From must be whatsapp:+<E.164 number>")
    try:
        num_media = int(form.first("NumMedia") or 0)
    except ValueError:
        raise BadRequest("NumMedia must be a number") from None
    return Inbound(
        message_sid=sid,
        phone=phone,
        body=form.first("Body").strip(),
        num_media=num_media,
        location=bool(form.first("Latitude") and form.first("Longitude")),
        profile_name=form.first("ProfileName") or None,
    )


class WhatsAppInput(InputChannel):
    """The webhook Twilio calls for the WhatsApp sender (``/webhooks/whatsapp/webhook``)."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        # Settings come from the environment (secrets stay out of credentials.yml).
        return cls(WhatsAppSettings.from_env())

    def __init__(
        self,
        settings: WhatsAppSettings | None = None,
        state: ChannelState | None = None,
        deployment: Settings | None = None,
    ) -> None:
        self.deployment = deployment or current()  # bot/settings.py: refused if unsafe
        self.deployment.check_startup()
        self.settings = settings or WhatsAppSettings.from_env()
        self.validator = RequestValidator(self.settings.auth_token)
        self.sender: Sender = make_sender(self.settings)
        self.state = state or channel_state_from_env("whatsapp")
        self._tails: dict[str, asyncio.Task[None]] = {}  # last queued turn per sender
        self._tasks: set[asyncio.Task[None]] = set()

    def get_output_channel(self) -> OutputChannel:
        return WhatsAppOutput(self.sender, self.state)

    # --- request checks ---------------------------------------------------------------

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: WHATSAPP_PUBLIC_URL (a full URL, or a base for our path)."""
        public = self.settings.public_url
        if not public:
            return request.url
        parts = urlsplit(public)
        if parts.path not in ("", "/"):
            return public
        return urlunsplit((parts.scheme, parts.netloc, request.path, request.query_string, ""))

    def is_signed(self, request: Request, form: _Form) -> bool:
        signature = request.headers.get("X-Twilio-Signature")
        if not signature:
            return False
        return self.validator.validate(self.signed_url(request), form, signature)

    def metadata(self, inbound: Inbound) -> dict[str, Any]:
        """Built from the verified sender only: nothing the client sends passes through."""
        brand = self.settings.brand
        return {
            TOKEN_METADATA_KEY: mint_identity_token(inbound.phone, brand),
            "brand": brand,
            "channel": CHANNEL_WHATSAPP,
            "profile_name": inbound.profile_name,
            "message_sid": inbound.message_sid,
        }

    # --- the turn ---------------------------------------------------------------------

    async def handle(
        self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """One turn, in the background; every failure ends in a log line, not a crash."""
        output = WhatsAppOutput(self.sender, self.state)
        who = mask_phone(inbound.phone)
        conversation = conversation_id(inbound.phone)
        if inbound.location:  # a shared place (its label may come as Body): not for NLU
            await output.send_text_message(conversation, LOCATION_REPLY)
            return
        if not inbound.body:
            if inbound.num_media:
                await output.send_text_message(conversation, MEDIA_REPLY)
            else:
                log.info("WhatsApp message %s from %s has no text: ignored",
                         inbound.message_sid, who)
            return
        text = inbound.body
        options = await self.state.pop_choices(conversation)  # answers the latest list only
        if options:
            text = chosen_payload(text, options) or text
        try:
            message = UserMessage(
                text,
                output,
                conversation,
                input_channel=self.name(),
                message_id=inbound.message_sid,
                metadata=self.metadata(inbound),
            )
            await on_new_message(message)
        except Exception:
            log.exception("WhatsApp turn %s from %s failed", inbound.message_sid, who)
            await output.send_text_message(conversation, ERROR_REPLY)

    def enqueue(
        self, inbound: Inbound, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        """Run the turn after the sender's previous one: replies keep the users' order."""
        previous = self._tails.get(inbound.phone)

        async def run() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            try:
                await self.handle(inbound, on_new_message)
            except Exception:  # handle() logs its own failures; this is the last guard
                log.exception("WhatsApp turn %s crashed", inbound.message_sid)

        task = asyncio.get_running_loop().create_task(run())
        self._tails[inbound.phone] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if self._tails.get(inbound.phone) is finished:
                del self._tails[inbound.phone]

        task.add_done_callback(done)

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait for turns still running (server shutdown, tests)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # --- HTTP -------------------------------------------------------------------------

    async def deliver(self, conversation: str, text: str, ts: float,
                      who: str = "system", state: str = "held") -> bool:
        """A message no turn asked for (an operator's, prefixed «Operatore:»), through the
        Twilio API. The 24-hour customer-service window is checked by the caller
        (bot/channels/handoff_live.py)."""
        body = f"Operatore: {text}" if who == "operator" else text
        return await WhatsAppOutput(self.sender, self.state)._deliver(conversation, body)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        on_new_message = with_turn_context(
            on_new_message, max_chars=self.deployment.max_message_chars)
        hook = Blueprint("whatsapp_webhook", __name__)
        outbound.register(PREFIX, self.deliver)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                form = parse_form(request)
                if not self.is_signed(request, form):
                    log.warning("WhatsApp webhook: missing or invalid Twilio signature")
                    return response.text("invalid signature", status=403)
                inbound = inbound_from_form(form)
            except BadRequest as exc:
                return response.text(f"bad request: {exc}", status=400)
            try:
                if await self.state.first_time(inbound.message_sid, SEEN_TTL_SECONDS):
                    self.enqueue(inbound, on_new_message)
                else:
                    log.info("WhatsApp message %s already received: ignored",
                             inbound.message_sid)
            except Exception:  # a bug of ours: short answer, the trace goes to the log only
                log.exception("WhatsApp webhook failed")
                return response.text("internal error", status=500)
            return response.text(TWIML_EMPTY, content_type="text/xml")

        @hook.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            await self.drain()
            await self.sender.close()
            await self.state.close()

        return hook
