"""Plays whole conversations (tests/conversations/FORMAT.md) on a running stack.

Each conversation is sent turn by turn on its channel (REST, the website's socket.io with a
customer token, signed WhatsApp posts answered through the fake Twilio API, the staff
channel with a staff token); every reply is checked, then what the backend holds: the
tickets, requests, payment links and audit rows created during that conversation, read
from the backend's own database. Codes are read from the SMS the backend sent, as the
customer would read them on their phone.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import requests
import socketio
import yaml

from identity.minting import mint_customer_token, mint_staff_token
from scripts.whatsapp_send import DEV_ACCOUNT_SID, SANDBOX_NUMBER, twilio_signature

HERE = Path(__file__).resolve().parent
TURN_TIMEOUT = 60.0
CONNECT_ATTEMPTS = 3  # a refused connection (bad token) is never retried
# A channel that answers asynchronously is done when quiet this long (the widget emits each
# reply as it is made; WhatsApp sends them after the turn, through the Twilio API).
QUIET_SECONDS = {"widget": 1.2, "whatsapp": 1.5}
COOLDOWN_SECONDS = 3  # the suite's backend runs with BACKEND_OTP_COOLDOWN_SECONDS=3
TABLES = ("support_tickets", "service_requests", "payment_requests", "staff_lookup_audit")


def fold(text: Any) -> str:
    """Case, accents and spacing ignored, as FORMAT.md says."""
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("’", "'").split())


def load_set(name: str) -> list[dict[str, Any]]:
    conversations: list[dict[str, Any]] = []
    for path in sorted((HERE / name).glob("*.yml")):
        for conversation in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get(
                "conversations") or []:
            conversations.append({**conversation, "_file": path.name})
    return conversations


def render_dates(text: str) -> str:
    def day(match: re.Match[str]) -> str:
        return (date.today() + timedelta(days=int(match.group(1)))).strftime("%d/%m/%Y")
    return re.sub(r"\{date:([+-]\d+)\}", day, text)


def iso_dates(value: Any) -> Any:
    if isinstance(value, str):
        found = re.fullmatch(r"\{date:([+-]\d+)\}", value.strip())
        if found:
            return (date.today() + timedelta(days=int(found.group(1)))).isoformat()
    return value


@dataclass
class Reply:
    texts: list[str] = field(default_factory=list)
    buttons: list[dict[str, Any]] = field(default_factory=list)

    def add(self, message: dict[str, Any]) -> None:
        if message.get("text"):
            self.texts.append(str(message["text"]))
        self.buttons.extend(message.get("buttons") or [])
        if message.get("quick_replies"):
            self.buttons.extend(message["quick_replies"])

    @property
    def folded(self) -> str:
        return fold("\n".join(self.texts + [str(b.get("title", "")) for b in self.buttons]))

    def show(self) -> str:
        lines = list(self.texts)
        if self.buttons:
            lines.append("[" + " | ".join(str(b.get("title")) for b in self.buttons) + "]")
        return "\n    ".join(lines) or "(no reply)"


class Backend:
    """The backend's database, read-only, and the SMS it sent."""

    def __init__(self, database: Path, sms_outbox: Path) -> None:
        self.database = database
        self.sms_outbox = sms_outbox

    def _query(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with sqlite3.connect(f"file:{self.database}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            return list(db.execute(sql, args))

    def high_marks(self) -> dict[str, int]:
        return {t: int(self._query(f"select coalesce(max(id), 0) m from {t}")[0]["m"])
                for t in TABLES}

    def created_since(self, marks: dict[str, int], table: str,
                      owner: tuple[str, Any]) -> list[sqlite3.Row]:
        """Rows written since ``marks`` by this conversation's owner: conversations of
        different owners run at the same time (tests/conversations/test_whole_...)."""
        kind, key = owner
        if table == "staff_lookup_audit":
            column, value = "staff_id", key if kind == "staff" else "-"
        else:
            column, value = "customer_id", key if kind == "customer" else None
        where = f"{column} is null" if value is None else f"{column} = ?"
        args = (marks[table],) if value is None else (marks[table], value)
        return self._query(f"select * from {table} where id > ? and {where} order by id", *args)

    def customer_with_mobile(self, phone: str) -> int | None:
        rows = self._query("select customer_id from contacts where kind = 'mobile' and value = ?"
                           " and is_dispositive = 1", phone)
        return int(rows[0]["customer_id"]) if len(rows) == 1 else None

    def dispositive_mobile(self, customer_id: int) -> str | None:
        rows = self._query("select value from contacts where customer_id = ? and kind = 'mobile'"
                           " and is_dispositive = 1", customer_id)
        return rows[0]["value"] if rows else None

    def sms_codes(self, phone: str) -> list[str]:
        if not self.sms_outbox.exists():
            return []
        codes = []
        for line in self.sms_outbox.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("to") == phone:
                found = re.search(r"\b(\d{5,6})\b", str(record.get("body") or ""))
                if found:
                    codes.append(found.group(1))
        return codes

    def installments_of(self, payment_request_id: int) -> int:
        rows = self._query("select count(*) n from payment_request_installments"
                           " where payment_request_id = ?", payment_request_id)
        return int(rows[0]["n"])

    def policy_number(self, policy_id: int | None) -> str | None:
        if policy_id is None:
            return None
        rows = self._query("select number from policies where id = ?", policy_id)
        return rows[0]["number"] if rows else None


class Channel:
    def start(self) -> None: ...

    def say(self, text: str) -> Reply:
        raise NotImplementedError

    def reset(self) -> None:
        """Start this conversation from a clean slate: a new session (no reply)."""

    def close(self) -> None: ...


class RestChannel(Channel):
    def __init__(self, url: str, brand: str, token: str | None) -> None:
        self.url, self.sender = f"{url}/webhooks/rest/webhook", f"suite-{uuid.uuid4().hex[:12]}"
        self.metadata: dict[str, Any] = {"brand": brand}
        if token:
            self.metadata["identity_token"] = token

    def say(self, text: str) -> Reply:
        answer = requests.post(self.url, json={"sender": self.sender, "message": text,
                                               "metadata": self.metadata}, timeout=TURN_TIMEOUT)
        answer.raise_for_status()
        reply = Reply()
        for message in answer.json():
            reply.add(message)
        return reply


class StaffChannel(Channel):
    def __init__(self, url: str, agency: str, staff_id: str) -> None:
        self.url = f"{url}/webhooks/staff/webhook"
        self.headers = {"Authorization": "Bearer " + mint_staff_token(
            staff_id, "agency_employee", agency)}

    def say(self, text: str) -> Reply:
        answer = requests.post(self.url, json={"message": text}, headers=self.headers,
                               timeout=TURN_TIMEOUT)
        answer.raise_for_status()
        reply = Reply()
        for message in answer.json().get("messages") or []:
            reply.add(message)
        return reply


class WidgetChannel(Channel):
    """The website widget as a socket.io client (long-polling, as the channel tests)."""

    def __init__(self, url: str, brand: str, token: str | None) -> None:
        self.url, self.auth = url, {"brand": brand, **({"token": token} if token else {})}
        self.loop = asyncio.new_event_loop()
        self.sio: Any = None
        self.inbox: asyncio.Queue[Any] | None = None

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, TURN_TIMEOUT))

    def start(self) -> None:
        async def connect() -> None:
            self.inbox = asyncio.Queue()
            self.sio = socketio.AsyncClient(reconnection=False)
            confirmed: asyncio.Queue[Any] = asyncio.Queue()

            async def on_bot(data: Any) -> None:
                await self.inbox.put(data)

            async def on_confirm(data: Any) -> None:
                await confirmed.put(data)

            self.sio.on("bot_uttered", on_bot)
            self.sio.on("session_confirm", on_confirm)
            for attempt in range(CONNECT_ATTEMPTS):
                try:
                    await self.sio.connect(self.url, auth=self.auth, transports=["polling"])
                    break
                except socketio.exceptions.ConnectionRefusedError:
                    raise  # the server said no (token, brand): never retried
                except socketio.exceptions.ConnectionError:
                    # The page's own client reconnects after a network hiccup; so do we.
                    if attempt == CONNECT_ATTEMPTS - 1:
                        raise
                    await asyncio.sleep(1.0 + attempt)
            await self.sio.emit("session_request", {})
            await confirmed.get()
        self._run(connect())

    def say(self, text: str) -> Reply:
        async def turn() -> Reply:
            assert self.inbox is not None
            await self.sio.emit("user_uttered", {"message": text})
            reply = Reply()
            reply.add(await asyncio.wait_for(self.inbox.get(), TURN_TIMEOUT))
            while True:
                try:
                    reply.add(await asyncio.wait_for(self.inbox.get(), QUIET_SECONDS["widget"]))
                except asyncio.TimeoutError:
                    return reply
        return self._run(turn())

    def reset(self) -> None:
        async def restart() -> None:
            await self.sio.emit("user_uttered", {"message": "/session_start"})
            await asyncio.sleep(1.0)
            while self.inbox is not None and not self.inbox.empty():
                self.inbox.get_nowait()
        self._run(restart())

    def close(self) -> None:
        async def hang_up() -> None:
            if self.sio is not None and self.sio.eio.state == "connected":
                await self.sio.eio.disconnect(abort=True)
            if self.sio is not None and self.sio.eio.http is not None:
                await self.sio.eio.http.close()
        try:
            self._run(hang_up())
        finally:
            self.loop.close()


class WhatsAppChannel(Channel):
    """Signed Twilio posts; the replies are read back from the fake Twilio API."""

    def __init__(self, url: str, phone: str, fake_twilio: Any, public_url: str) -> None:
        self.url, self.phone, self.twilio, self.public_url = url, phone, fake_twilio, public_url

    def _sent(self) -> list[dict[str, Any]]:
        return self.twilio.messages_to(f"whatsapp:{self.phone}")

    def reset(self) -> None:
        self._post("/session_start")
        time.sleep(1.5)

    def _post(self, text: str) -> None:
        sid = "SM" + uuid.uuid4().hex
        form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": DEV_ACCOUNT_SID,
                "From": f"whatsapp:{self.phone}", "To": SANDBOX_NUMBER, "Body": text,
                "NumMedia": "0", "NumSegments": "1", "ProfileName": "Cliente"}
        signature = twilio_signature(self.public_url, form, "fake-twilio-token")
        answer = requests.post(f"{self.url}/webhooks/whatsapp/webhook", data=form,
                               headers={"X-Twilio-Signature": signature}, timeout=TURN_TIMEOUT)
        answer.raise_for_status()

    def say(self, text: str) -> Reply:
        before = len(self._sent())
        self._post(text)
        deadline = time.monotonic() + TURN_TIMEOUT
        while len(self._sent()) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        count, quiet_since = len(self._sent()), time.monotonic()
        while time.monotonic() - quiet_since < QUIET_SECONDS["whatsapp"]:
            time.sleep(0.05)
            if len(self._sent()) != count:
                count, quiet_since = len(self._sent()), time.monotonic()
        reply = Reply()
        for message in self._sent()[before:]:
            reply.add({"text": message.get("Body") or message.get("body") or ""})
        return reply


@dataclass
class Outcome:
    conversation: dict[str, Any]
    transcript: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def report(self) -> str:
        head = f"{self.conversation['id']} ({self.conversation.get('_file')})"
        return "\n".join([head, *self.transcript, *("PROBLEM: " + p for p in self.problems)])


class Player:
    """Plays conversations against one running stack."""

    def __init__(self, rasa_url: str, backend: Backend, fake_twilio: Any,
                 whatsapp_public_url: str) -> None:
        self.rasa_url, self.backend = rasa_url, backend
        self.fake_twilio, self.whatsapp_public_url = fake_twilio, whatsapp_public_url
        self.last_seen: dict[str, float] = {}  # phone -> end of its last conversation with a code

    def owner(self, conversation: dict[str, Any]) -> tuple[str, Any]:
        """Whose data the conversation touches: conversations of one owner run one after
        the other, different owners at the same time."""
        who = str(conversation.get("who") or "visitor")
        if who.startswith("customer:"):
            return ("customer", int(who.split(":", 1)[1]))
        if who.startswith("whatsapp:"):
            customer = self.backend.customer_with_mobile(who.split(":", 1)[1])
            return ("customer", customer) if customer else ("visitor", None)
        if who.startswith("staff:"):
            return ("staff", f"suite-{conversation['id']}"[:60])
        return ("visitor", None)

    def _channel(self, conversation: dict[str, Any]) -> tuple[Channel, str | None]:
        kind, brand = conversation.get("channel", "rest"), conversation.get("brand", "alleanza")
        who = str(conversation.get("who") or "visitor")
        phone: str | None = None
        token = None
        if who.startswith("customer:"):
            customer = int(who.split(":", 1)[1])
            token = mint_customer_token(customer, brand)
            phone = self.backend.dispositive_mobile(customer)
        if kind == "rest":
            return RestChannel(self.rasa_url, brand, token), phone
        if kind == "widget":
            return WidgetChannel(self.rasa_url, brand, token), phone
        if kind == "staff":
            staff_id = re.sub(r"[^A-Za-z0-9_-]", "", self.owner(conversation)[1])
            return StaffChannel(self.rasa_url, who.split(":", 1)[1], staff_id), None
        if kind == "whatsapp":
            phone = who.split(":", 1)[1]
            return WhatsAppChannel(self.rasa_url, phone, self.fake_twilio,
                                   self.whatsapp_public_url), phone
        raise ValueError(f"unknown channel {kind}")

    def _text(self, turn: dict[str, Any], phone: str | None, last: Reply,
              kind: str = "rest") -> str:
        if "button" in turn and kind == "whatsapp":
            return str(turn["button"])  # a numbered list: the user types the number or label
        if "button" in turn:
            wanted = turn["button"]
            buttons = last.buttons
            if isinstance(wanted, int):
                if not 1 <= wanted <= len(buttons):
                    raise AssertionError(f"no button {wanted} in the previous reply")
                return str(buttons[wanted - 1].get("payload"))
            for button in buttons:
                if fold(button.get("title", "")) == fold(wanted):
                    return str(button.get("payload"))
            raise AssertionError(f"no button titled {wanted!r} in the previous reply")
        text = render_dates(str(turn.get("user", "")))
        if "{otp}" in text or "{wrong_otp}" in text:
            codes = self.backend.sms_codes(phone or "")
            if not codes:
                raise AssertionError("no SMS code was sent to this customer")
            wrong = codes[-1][:-1] + str((int(codes[-1][-1]) + 1) % 10)
            text = text.replace("{otp}", codes[-1]).replace("{wrong_otp}", wrong)
        return text

    def play(self, conversation: dict[str, Any]) -> Outcome:
        outcome = Outcome(conversation)
        owner = self.owner(conversation)
        if owner[0] == "staff":
            owner = ("staff", re.sub(r"[^A-Za-z0-9_-]", "", owner[1]))
        marks = self.backend.high_marks()
        channel, phone = self._channel(conversation)
        if phone and phone in self.last_seen:
            # The backend's resend cooldown is per customer: a new conversation of a customer
            # who was just sent a code starts after it, as it would on another day.
            time.sleep(max(0.0, self.last_seen[phone] + COOLDOWN_SECONDS + 0.5 - time.monotonic()))
        codes_before = len(self.backend.sms_codes(phone)) if phone else 0
        last = Reply()
        try:
            channel.start()
            if conversation.get("channel") in ("widget", "whatsapp"):
                # These conversations are keyed by the customer or the phone: each suite
                # conversation starts a new session, as on another day.
                channel.reset()
            for number, turn in enumerate(conversation.get("turns") or [], 1):
                if turn.get("wait_cooldown"):
                    time.sleep(COOLDOWN_SECONDS + 0.5)
                    continue
                try:
                    text = self._text(turn, phone, last, conversation.get("channel", "rest"))
                except AssertionError as problem:
                    outcome.problems.append(f"turn {number}: {problem}")
                    break
                last = channel.say(text)
                outcome.transcript += [f"  > {text}", f"    {last.show()}"]
                self._check_reply(outcome, number, turn, last)
        except Exception as error:  # a channel failing is a failed conversation, reported
            outcome.problems.append(f"channel error: {error!r}")
        finally:
            channel.close()
            if phone and len(self.backend.sms_codes(phone)) > codes_before:
                self.last_seen[phone] = time.monotonic()
        time.sleep(0.2)  # the submit of the last turn is written before its reply returns
        self._check_backend(outcome, conversation.get("backend") or {}, marks, owner)
        return outcome

    @staticmethod
    def _check_reply(outcome: Outcome, number: int, turn: dict[str, Any], reply: Reply) -> None:
        said = reply.folded
        if not said:
            outcome.problems.append(f"turn {number}: no reply")
        for item in turn.get("expect") or []:
            options = item if isinstance(item, list) else [item]
            if not any(fold(o) in said for o in options):
                outcome.problems.append(f"turn {number}: expected {options!r}")
        for item in turn.get("expect_not") or []:
            if fold(item) in said:
                outcome.problems.append(f"turn {number}: unexpected {item!r}")

    def _check_backend(self, outcome: Outcome, wanted: dict[str, Any],
                       marks: dict[str, int], owner: tuple[str, Any]) -> None:
        created = {t: self.backend.created_since(marks, t, owner) for t in TABLES}
        if wanted.get("nothing_created"):
            for table in TABLES[:3]:
                if created[table]:
                    outcome.problems.append(f"backend: {len(created[table])} new {table}")
        tickets = created["support_tickets"]
        if owner[0] == "customer":
            # A customer who has not proved who they are (WhatsApp before the step-up)
            # opens tickets without a customer id: matched on their content.
            tickets = tickets + self.backend.created_since(marks, "support_tickets",
                                                           ("visitor", None))
        self._match(outcome, "support_tickets", wanted.get("support_tickets"), tickets,
                    self._ticket_matches)
        self._match(outcome, "service_requests", wanted.get("service_requests"),
                    created["service_requests"], self._request_matches)
        self._match(outcome, "payment_requests", wanted.get("payment_requests"),
                    created["payment_requests"], self._payment_matches)
        audit = wanted.get("staff_lookups")
        if audit:
            rows = [r for r in created["staff_lookup_audit"]
                    if not audit.get("outcome") or r["outcome"] == audit["outcome"]]
            if len(rows) < int(audit.get("at_least", 1)):
                outcome.problems.append(f"backend: {len(rows)} staff audit rows, wanted {audit}")

    @staticmethod
    def _match(outcome: Outcome, table: str, wanted: list[dict[str, Any]] | None,
               rows: list[sqlite3.Row], matches: Any) -> None:
        for expected in wanted or []:
            if not any(matches(expected, row) for row in rows):
                seen = [dict(r) for r in rows]
                outcome.problems.append(f"backend: no {table} like {expected} (new: {seen})")

    @staticmethod
    def _ticket_matches(expected: dict[str, Any], row: sqlite3.Row) -> bool:
        if "reply_email" in expected and fold(row["reply_email"]) != fold(expected["reply_email"]):
            return False
        if "reason" in expected and row["reason"] != expected["reason"]:
            return False
        if "customer_id" in expected and row["customer_id"] != expected["customer_id"]:
            return False
        return all(fold(t) in fold(row["text"]) for t in expected.get("text_contains") or [])

    def _request_matches(self, expected: dict[str, Any], row: sqlite3.Row) -> bool:
        if "kind" in expected and row["kind"] != expected["kind"]:
            return False
        if "policy_number" in expected and self.backend.policy_number(
                row["policy_id"]) != expected["policy_number"]:
            return False
        details = json.loads(row["details"]) if isinstance(row["details"], str) else row[
            "details"]
        for key, value in (expected.get("details") or {}).items():
            if key == "description_contains":
                text = fold(details.get("description", ""))
                if not all(fold(v) in text for v in value):
                    return False
            elif key == "amount":
                if f"{float(details.get('amount', 'nan')):.2f}" != f"{float(value):.2f}":
                    return False
            elif fold(details.get(key, "")) != fold(iso_dates(value)):
                return False
        return True

    def _payment_matches(self, expected: dict[str, Any], row: sqlite3.Row) -> bool:
        for key in ("method", "card_network"):
            if key in expected and row[key] != expected[key]:
                return False
        if "policy_number" in expected and self.backend.policy_number(
                row["policy_id"]) != expected["policy_number"]:
            return False
        if "installments" in expected and self.backend.installments_of(row["id"]) != int(
                expected["installments"]):
            return False
        if "link" in expected and (row["status"] == "pending") != bool(expected["link"]):
            return False
        return True
