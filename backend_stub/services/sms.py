"""Outgoing SMS: console/outbox for development, the official Twilio client otherwise.

Modes (env ``SMS_MODE``):

* ``console`` (default) - no credentials. The message goes to an outbox file (JSON lines,
  ``var/sms_outbox.jsonl``): that file stands for the customer's handset, so it holds the
  text as sent. The log line shows the text with the code masked.
* ``twilio`` - the real ``twilio`` client with ``TWILIO_ACCOUNT_SID``,
  ``TWILIO_AUTH_TOKEN``, ``TWILIO_FROM``.
* ``fake_twilio`` - the same real client, pointed at ``TWILIO_API_BASE_URL`` (the local
  fake Twilio API of ``backend_stub/fake_twilio.py``); test credentials by default.

Pointing the client elsewhere: twilio 9 builds every URL from its domain object's
``base_url`` (``client.api.base_url``, default ``https://api.twilio.com``) at request time,
so replacing it sends the very same request (path, form body, basic auth) to our server.
``environment={}`` keeps ``TWILIO_EDGE``/``TWILIO_REGION`` from rewriting that host.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ..config import Settings

log = logging.getLogger("backend_stub.sms")
# The twilio client logs requests at INFO; keep its chatter (URLs, headers) out of our logs.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class SmsError(Exception):
    """The provider did not accept the message."""


class SmsSender(Protocol):
    """Sends one SMS; ``masked_body`` is what may be logged."""

    mode: str

    def send(self, to: str, body: str, masked_body: str) -> str:
        """Send and return the provider's message id."""
        ...


class ConsoleSms:
    """Development sender: appends to the outbox file and logs the masked text."""

    mode = "console"

    def __init__(self, outbox_path: Path) -> None:
        self.outbox_path = outbox_path
        self._lock = threading.Lock()
        self._count = 0

    def send(self, to: str, body: str, masked_body: str) -> str:
        from ..masking import mask_phone

        with self._lock:
            self._count += 1
            message_id = f"console-{datetime.now(UTC):%Y%m%d%H%M%S}-{self._count}"
            self.outbox_path.parent.mkdir(parents=True, exist_ok=True)
            record = {"id": message_id, "to": to, "body": body, "sent_at": datetime.now(UTC).isoformat()}
            with self.outbox_path.open("a", encoding="utf-8") as outbox:
                outbox.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.info("SMS (console) to %s: %s", mask_phone(to), masked_body)
        return message_id


class TwilioSms:
    """Sender through the official ``twilio`` client (real API or the local fake one)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        sender: str,
        base_url: str = "",
        mode: str = "twilio",
        timeout: float = 10.0,
    ) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not (account_sid and auth_token and sender):
            raise ValueError("SMS_MODE=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM")
        self.mode = mode
        self.sender = sender
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout), environment={})
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")

    def send(self, to: str, body: str, masked_body: str) -> str:
        from twilio.base.exceptions import TwilioException

        from ..masking import mask_phone

        try:
            message = self.client.messages.create(to=to, from_=self.sender, body=body)
        except TwilioException as exc:
            log.warning("SMS (%s) to %s refused: %s", self.mode, mask_phone(to), type(exc).__name__)
            raise SmsError(type(exc).__name__) from None
        except OSError as exc:  # connection refused, timeouts (requests' errors are OSErrors)
            log.warning("SMS (%s) to %s failed: %s", self.mode, mask_phone(to), type(exc).__name__)
            raise SmsError(type(exc).__name__) from None
        log.info("SMS (%s) to %s accepted as %s: %s", self.mode, mask_phone(to), message.sid, masked_body)
        return str(message.sid)


def make_sms_sender(settings: Settings) -> SmsSender:
    """The sender chosen by ``settings.sms_mode``."""
    if settings.sms_mode == "console":
        return ConsoleSms(settings.sms_outbox_path)
    if settings.sms_mode == "fake_twilio" and not settings.twilio_api_base_url:
        raise ValueError("SMS_MODE=fake_twilio needs TWILIO_API_BASE_URL (e.g. http://127.0.0.1:8099)")
    return TwilioSms(
        settings.twilio_account_sid,
        settings.twilio_auth_token,
        settings.twilio_from,
        base_url=settings.twilio_api_base_url,
        mode=settings.sms_mode,
    )
