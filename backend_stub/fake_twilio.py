"""A local fake of the Twilio Messages API, for tests and development. Standard library only.

It lets the real ``twilio`` client build and send real HTTP requests, and lets tests read
what was "sent". Being stdlib-only, it can be imported (or run) from any Python
environment, e.g. the Rasa side's tests, to read OTP codes sent by the backend stub.

What it answers, like Twilio does:

* ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form: To, From or
  MessagingServiceSid, Body; HTTP basic auth AccountSid:AuthToken) -> 201 JSON with a
  ``SM...`` sid and ``status: queued``; 401 (code 20003) on bad credentials; 400
  (21604/21603/21602) on missing fields.
* ``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` -> the message.

Test helpers: ``GET /_messages`` (JSON list, ``?to=+39...`` filter), ``DELETE /_messages``.
Python: ``FakeTwilio().start()``, ``.messages``, ``.wait_for(count)``, ``.clear()``, ``.stop()``.

Run: ``python backend_stub/fake_twilio.py --port 8099`` (then ``SMS_MODE=fake_twilio
TWILIO_API_BASE_URL=http://127.0.0.1:8099`` for the backend stub).
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import secrets
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typing.Self is 3.11+: the Rasa side (3.10) imports this file too
    from typing import Self
from urllib.parse import parse_qs, urlsplit

DEFAULT_SID = "AC" + "0" * 32
DEFAULT_TOKEN = "fake-twilio-token"
_CREATE_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages\.json$")
_FETCH_RE = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-fA-F]{32})/Messages/(?P<msg>SM[0-9a-f]{32})\.json$")


class FakeTwilio:
    """The fake server; accepts the given credentials (any number of accounts)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, account_sid: str = DEFAULT_SID, auth_token: str = DEFAULT_TOKEN
    ) -> None:
        self.credentials = {account_sid: auth_token}
        self._messages: list[dict[str, Any]] = []
        self._requests: list[dict[str, Any]] = []
        self._lock = threading.Condition()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-twilio", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # --- what tests read -------------------------------------------------------------

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages, oldest first (copies)."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request seen (method, path, headers, form), including refused ones."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def messages_to(self, to: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["to"] == to]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._requests.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` messages arrived (TimeoutError otherwise)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._messages)} of {count} messages arrived")
                self._lock.wait(left)
            return [dict(m) for m in self._messages]

    # --- request handling -------------------------------------------------------------

    def _record(self, entry: dict[str, Any], message: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._requests.append(entry)
            if message is not None:
                self._messages.append(message)
            self._lock.notify_all()

    def _authorised(self, header: str | None, sid: str) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == sid and self.credentials.get(sid) == password

    def _create(self, sid: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        service = form.get("MessagingServiceSid", "")
        if not to:
            return 400, _error(21604, "A 'To' phone number is required.", 400)
        if not (sender or service):
            return 400, _error(21603, "A 'From' phone number is required.", 400)
        if not (body or form.get("MediaUrl")):
            return 400, _error(21602, "Message body is required.", 400)
        msg_sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        message = {
            "sid": msg_sid,
            "account_sid": sid,
            "to": to,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "body": body,
            "status": "queued",
            "num_segments": str(max(1, -(-len(body) // 160))),
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "uri": f"/2010-04-01/Accounts/{sid}/Messages/{msg_sid}.json",
            "subresource_uris": {"media": f"/2010-04-01/Accounts/{sid}/Messages/{msg_sid}/Media.json"},
        }
        return 201, message

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "FakeTwilio/1.0"

            def log_message(self, format: str, *args: Any) -> None:
                """Silent: message bodies hold OTP codes."""

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                entry = {"method": "POST", "path": path, "headers": dict(self.headers.items()), "form": form}
                match = _CREATE_RE.match(path)
                if not match:
                    fake._record(entry)
                    self._send(404, _error(20404, "The requested resource was not found", 404))
                    return
                sid = match["sid"]
                if not fake._authorised(self.headers.get("Authorization"), sid):
                    fake._record(entry)
                    self._send(401, _error(20003, "Authenticate", 401))
                    return
                status, payload = fake._create(sid, form)
                fake._record(entry, payload if status == 201 else None)
                self._send(status, payload)

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/_messages":
                    to = parse_qs(parts.query).get("to", [None])[-1]
                    self._send(200, [m for m in fake.messages if to is None or m["to"] == to])
                    return
                match = _FETCH_RE.match(parts.path)
                if match and fake._authorised(self.headers.get("Authorization"), match["sid"]):
                    found = next((m for m in fake.messages if m["sid"] == match["msg"]), None)
                    if found:
                        self._send(200, found)
                        return
                if match and not fake._authorised(self.headers.get("Authorization"), match["sid"]):
                    self._send(401, _error(20003, "Authenticate", 401))
                    return
                self._send(404, _error(20404, "The requested resource was not found", 404))

            def do_DELETE(self) -> None:
                if urlsplit(self.path).path == "/_messages":
                    fake.clear()
                    self.send_response(204)
                    self.end_headers()
                    return
                self._send(404, _error(20404, "The requested resource was not found", 404))

        return Handler


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Local fake of the Twilio Messages API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--account-sid", default=DEFAULT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    fake = FakeTwilio(args.host, args.port, args.account_sid, args.auth_token)
    print(f"fake Twilio API on {fake.url} (account {args.account_sid})", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake._server.server_close()


if __name__ == "__main__":
    main()
