"""Send a WhatsApp message to the local assistant as Twilio would, and print the replies.

The post is form-encoded and carries a valid ``X-Twilio-Signature`` (HMAC-SHA1 of the URL
and the sorted fields, keyed with the auth token), so it goes through the same checks as
a real message. Standard library only. With ``make run`` and no Twilio settings the
assistant writes its replies to ``var/whatsapp_outbox.jsonl``; this script prints the new
ones for your number.

    .venv/bin/python scripts/whatsapp_send.py "ciao"
    .venv/bin/python scripts/whatsapp_send.py --from +393471234567 "non mi arriva il codice"
    .venv/bin/python scripts/whatsapp_send.py --media          # a photo without text
    .venv/bin/python scripts/whatsapp_send.py --location 45.46,9.19

Env: ``TWILIO_AUTH_TOKEN`` (default: the fake Twilio's test token, as the channel),
``RASA_PORT``, ``WHATSAPP_OUTBOX_PATH``; ``--fake-twilio URL`` reads replies from the fake
Twilio API's ``/_messages`` instead of the outbox.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_AUTH_TOKEN = "fake-twilio-token"  # the same default as bot/channels/whatsapp.py
DEV_ACCOUNT_SID = "AC" + "0" * 32
SANDBOX_NUMBER = "whatsapp:+14155238886"


def twilio_signature(url: str, form: dict[str, str], token: str) -> str:
    """Twilio's algorithm: URL + each field name and value, sorted by name."""
    data = url + "".join(name + form[name] for name in sorted(form))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def build_form(args: argparse.Namespace) -> dict[str, str]:
    sid = args.sid or "SM" + uuid.uuid4().hex
    phone = args.sender if args.sender.startswith("+") else "+" + args.sender
    form = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": os.environ.get("TWILIO_ACCOUNT_SID") or DEV_ACCOUNT_SID,
        "From": "whatsapp:" + phone,
        "To": os.environ.get("TWILIO_WHATSAPP_FROM") or SANDBOX_NUMBER,
        "Body": args.text or "",
        "NumMedia": "0",
        "NumSegments": "1",
        "ProfileName": args.profile_name,
        "WaId": phone.lstrip("+"),
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    if args.media:
        form.update(NumMedia="1", MediaContentType0="image/jpeg",
                    MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME")
    if args.location:
        lat, _, lon = args.location.partition(",")
        form.update(Latitude=lat.strip(), Longitude=lon.strip())
    return form


def post(url: str, form: dict[str, str], signature: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={"X-Twilio-Signature": signature,
                 "Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def replies_from_outbox(path: Path, offset: int, to: str) -> list[str]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as outbox:
        outbox.seek(offset)
        records = [json.loads(line) for line in outbox if line.strip()]
    return [r["body"] or f"[media] {r.get('media_url')}" for r in records if r["to"] == to]


def replies_from_fake(base_url: str, to: str) -> list[str]:
    query = urllib.parse.urlencode({"to": to})
    with urllib.request.urlopen(f"{base_url.rstrip('/')}/_messages?{query}", timeout=5) as r:
        return [m["body"] for m in json.load(r)]


def main() -> int:
    port = os.environ.get("RASA_PORT", "5005")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("text", nargs="?", default="", help="the message text")
    parser.add_argument("--from", dest="sender", default="+393331234567",
                        help="your WhatsApp number, E.164 (default %(default)s)")
    parser.add_argument("--profile-name", default="Mario Rossi")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}/webhooks/whatsapp/webhook")
    parser.add_argument("--signed-url", help="the URL to sign, if not --url (WHATSAPP_PUBLIC_URL)")
    parser.add_argument("--token", default=os.environ.get("TWILIO_AUTH_TOKEN") or DEV_AUTH_TOKEN)
    parser.add_argument("--sid", help="MessageSid (repeat one to test the duplicate check)")
    parser.add_argument("--media", action="store_true", help="attach a photo")
    parser.add_argument("--location", help="send a location: LAT,LON")
    parser.add_argument("--outbox", type=Path, default=Path(
        os.environ.get("WHATSAPP_OUTBOX_PATH") or ROOT / "var" / "whatsapp_outbox.jsonl"))
    parser.add_argument("--fake-twilio", help="read replies from this fake Twilio API instead")
    parser.add_argument("--wait", type=float, default=30, help="seconds to wait for replies")
    parser.add_argument("--print-signature", action="store_true",
                        help="print the form and its signature as JSON, send nothing")
    args = parser.parse_args()

    form = build_form(args)
    signature = twilio_signature(args.signed_url or args.url, form, args.token)
    if args.print_signature:
        print(json.dumps({"form": form, "signature": signature}, ensure_ascii=False))
        return 0

    to = form["From"]
    seen = len(replies_from_fake(args.fake_twilio, to)) if args.fake_twilio else 0
    offset = args.outbox.stat().st_size if args.outbox.exists() else 0
    try:
        status, body = post(args.url, form, signature)
    except OSError as exc:
        print(f"cannot reach {args.url}: {exc} (is 'make run' running?)", file=sys.stderr)
        return 1
    print(f"webhook: HTTP {status} {body[:80]}")
    if status != 200:
        return 1

    # Replies arrive in the background; stop 3 s after the last one (or after --wait).
    shown, last_change, deadline = 0, time.monotonic(), time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if args.fake_twilio:
            replies = replies_from_fake(args.fake_twilio, to)[seen:]
        else:
            replies = replies_from_outbox(args.outbox, offset, to)
        for reply in replies[shown:]:
            print(f"\n--- bot ---\n{reply}")
            last_change = time.monotonic()
        shown = len(replies)
        if shown and time.monotonic() - last_change > 3:
            break
        time.sleep(0.3)
    if not shown:
        print(f"no reply within {args.wait:.0f}s (outbox {args.outbox})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
