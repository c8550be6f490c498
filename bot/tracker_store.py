"""Rasa's SQL tracker store (SQLite or PostgreSQL) that writes no token and no personal data
in clear, forgets conversations after a retention period and can erase one customer's.

endpoints.yml names it ``type: bot.tracker_store.RedactingSQLTrackerStore`` with the same
settings as Rasa's ``type: SQL`` (bot/endpoints_config.py renders both dialects).

**Design, and why.** Rasa re-reads the tracker from the store at every turn, so whatever a
later turn needs must come back from it. Of what a turn writes, later turns read back only
slot values: user texts, parse data and bot texts are read for intent names and buttons
(bot/channels/turn_context.py, actions/suggestions.py), and the identity token arrives fresh
with every message (the running turn keeps its events in memory, untouched). Therefore:

1. Every event is written redacted (bot/redaction.py): the ``events`` table never holds an
   identity token (dropped, never written), a typed code, an IBAN or an e-mail in clear,
   not even for a minute. The same goes for events sent to an event broker.
2. The few slots a running form reads back on a later turn (``LIVE_SLOTS``: reply e-mail,
   IBAN, free texts, a paused form's answers, the WhatsApp step-up marker) are masked in the
   event too; their current clear value sits in ``conversation_live_values``, one row per
   conversation and slot pointing at the event that set it, and :meth:`_retrieve` puts it
   back into that event. The row goes when the slot changes or is emptied, when a new session
   starts (which carries only the brand: actions/session.py), when the conversation has been
   idle longer than the session expiry (the next message starts a new session anyway), and
   at the latest ``PERSONAL_DATA_MAX_HOURS`` (default 12) after it was set. A live slot whose
   row is gone reads as empty: the form asks again instead of sending a masked address.

   Rejected: redacting in place only once a form or session ends, which keeps clear data in
   the main table (the one backups, exports and analytics copy) for a whole session, and for
   ever for a customer who never comes back; and encrypting the events, which needs one more
   key to manage and still leaves the data readable wherever that key is.
3. ``conversation_subjects`` holds, per conversation, keyed hashes (HMAC, key derived from
   ``CHAT_TICKET_SECRET``, else ``CUSTOMER_JWT_SECRET``, as bot/channels/socketio_jwt.py does
   for conversation ids) of the verified customer (brand and id, from the identity token or
   the WhatsApp step-up) and the WhatsApp number: ``scripts/erase_conversations.py --customer``
   / ``--phone`` finds them without the store holding ids in clear. Rotating that secret
   orphans the older hashes (the script also tries the conversation ids it can derive).
4. Retention: conversations idle for ``CONVERSATION_RETENTION_DAYS`` (default 30) are
   deleted, and so are older sessions of conversations still in use; at Rasa start (once
   per process), every ``RETENTION_SWEEP_SECONDS`` of a running process, and by the script.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.orm import declarative_base

from bot.redaction import LIVE_SLOTS, redact_event
from identity import (
    CUSTOMER_SECRET_ENV,
    TOKEN_METADATA_KEY,
    SecretNotConfigured,
    secret_for,
    verify_token,
)

log = logging.getLogger(__name__)

RETENTION_ENV = "CONVERSATION_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30.0
LIVE_HOURS_ENV = "PERSONAL_DATA_MAX_HOURS"
DEFAULT_LIVE_HOURS = 12.0
TICKET_SECRET_ENV = "CHAT_TICKET_SECRET"
LIVE_SWEEP_SECONDS = 5 * 60
RETENTION_SWEEP_SECONDS = 6 * 60 * 60
# Events after which no earlier slot value can come back.
RESETS = frozenset({"session_started", "restart", "reset_slots"})
LAST_KNOWN_CONVERSATIONS = 5000  # per process, read only while the database is away
STEP_UP_CUSTOMER_SLOT = "step_up_customer"  # actions/guard.py: the customer a WhatsApp
#                                             sender proved with the OTP step-up

IndexBase = declarative_base()


class LiveValue(IndexBase):
    """The clear value of a live slot while its conversation runs (see the module docstring)."""

    __tablename__ = "conversation_live_values"
    sender_id = sa.Column(sa.String(255), primary_key=True)
    slot = sa.Column(sa.String(255), primary_key=True)
    event_id = sa.Column(sa.Integer, nullable=False)
    value = sa.Column(sa.Text, nullable=False)  # JSON
    set_at = sa.Column(sa.Float, nullable=False, index=True)
    touched_at = sa.Column(sa.Float, nullable=False, index=True)


class Subject(IndexBase):
    """A keyed hash of who a conversation belongs to, for erasure on request."""

    __tablename__ = "conversation_subjects"
    sender_id = sa.Column(sa.String(255), primary_key=True)
    subject = sa.Column(sa.String(64), primary_key=True, index=True)


# --- settings ----------------------------------------------------------------------------


def positive_setting(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number from the environment; anything else stops the start, saying which."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r} must be a positive number")
    return value


# --- erasure index -----------------------------------------------------------------------


def _subject_key() -> bytes:
    configured = os.environ.get(TICKET_SECRET_ENV)
    base = configured if configured else secret_for(CUSTOMER_SECRET_ENV)
    return hmac.new(base.encode(), b"area-clienti tracker: erasure index",
                    hashlib.sha256).digest()


def _subject(*parts: str) -> str:
    return hmac.new(_subject_key(), ":".join(parts).encode(), hashlib.sha256).hexdigest()


def customer_subject(brand: str, customer_id: str) -> str:
    return _subject("customer", str(brand), str(customer_id))


def phone_subject(phone: str) -> str:
    return _subject("phone", phone)


def subjects_of(event: Mapping[str, Any], brand: str | None) -> set[str]:
    """Whom this (unredacted) event identifies: a verified token's customer or number, or
    the customer a WhatsApp step-up proved. Without a usable key: nobody (never a lost turn;
    erasure then relies on the conversation ids it can derive)."""
    try:
        return _subjects_of(event, brand)
    except SecretNotConfigured as exc:
        log.error("tracker: conversations cannot be indexed for erasure: %s", exc)
        return set()


def _subjects_of(event: Mapping[str, Any], brand: str | None) -> set[str]:
    found: set[str] = set()
    kind = event.get("event")
    if kind == "user":
        metadata = event.get("metadata")
        token = metadata.get(TOKEN_METADATA_KEY) if isinstance(metadata, Mapping) else None
        if token:
            identity = verify_token(token)
            if identity.kind == "customer" and identity.brand and identity.customer_id:
                found.add(customer_subject(identity.brand, identity.customer_id))
            elif identity.kind == "whatsapp" and identity.phone:
                found.add(phone_subject(identity.phone))
    elif kind == "slot" and event.get("name") == STEP_UP_CUSTOMER_SLOT:
        if event.get("value") and brand:
            found.add(customer_subject(brand, str(event["value"])))
    return found


# --- live values -------------------------------------------------------------------------


def with_live_values(
    rows: Iterable[tuple[int, dict[str, Any]]], live: Mapping[str, tuple[int, Any]]
) -> list[dict[str, Any]]:
    """Stored events with the clear values of live slots put back (current session only).

    ``live`` maps a slot to (id of the event that set it, clear value). In the current session
    a live slot's event without its row reads as empty, so nothing masked is ever used.
    """
    rows = list(rows)
    start = max((i for i, (_, e) in enumerate(rows) if e.get("event") == "session_started"),
                default=0)
    events = []
    for index, (row_id, event) in enumerate(rows):
        name = event.get("name")
        if index >= start and event.get("event") == "slot" and name in LIVE_SLOTS:
            event_id, value = live.get(name, (None, None))
            event = {**event, "value": value if event_id == row_id else None}
        events.append(event)
    return events


# --- the store ---------------------------------------------------------------------------

_swept_at_start: set[str] = set()


def _secure_delete(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA secure_delete = ON")
    # Fewer syncs per commit (NORMAL): a killed process loses nothing; a power cut at the
    # wrong moment may lose the last turn. ``SQLITE_SYNCHRONOUS=FULL`` restores SQLite's
    # default. (Not WAL: deleted rows would stay readable in the log until a checkpoint.)
    synchronous = os.environ.get("SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if synchronous in ("OFF", "NORMAL", "FULL", "EXTRA"):
        dbapi_connection.execute(f"PRAGMA synchronous = {synchronous}")


class RedactingSQLTrackerStore(SQLTrackerStore):
    """Rasa's SQLTrackerStore; what it writes is redacted (see the module docstring)."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        retention_days: float | None = None,
        live_hours: float | None = None,
        sweep_on_start: bool = True,
        **kwargs: Any,
    ) -> None:
        self.retention_days = retention_days or positive_setting(
            os.environ, RETENTION_ENV, DEFAULT_RETENTION_DAYS)
        self.live_hours = live_hours or positive_setting(
            os.environ, LIVE_HOURS_ENV, DEFAULT_LIVE_HOURS)
        super().__init__(domain=domain, host=host, event_broker=event_broker, **kwargs)
        self._unsaved: dict[str, DialogueStateTracker] = {}  # kept through an outage
        self._last_known: OrderedDict[str, list[Event]] = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            # Deleted rows are overwritten, not left readable in the file's free pages.
            # (PostgreSQL: dead rows go at the next (auto)vacuum.)
            sa.event.listen(self.engine, "connect", _secure_delete)
        IndexBase.metadata.create_all(self.engine)
        now = time.time()
        self._live_swept = self._retention_swept = now
        key = str(self.engine.url)
        if sweep_on_start and key not in _swept_at_start:
            _swept_at_start.add(key)
            self._sweep(now, retention=True)

    # --- writing and reading ---

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Rasa's save, with each new event redacted and live slots' values kept apart.

        A save that fails (the database away) keeps the tracker in this process: the next
        read or save of any conversation first writes what is missing (the events after
        those stored, as Rasa's save does), so a turn answered during an outage is in the
        table once the database is back. During the outage a read returns the events this
        process last read or wrote of the conversation (``LAST_KNOWN_CONVERSATIONS`` kept),
        so the conversation goes on where it was instead of starting again in Rasa's
        in-memory fallback store (which is still used for conversations this process had
        not seen: with several replicas, one whose turns land on another replica).
        """
        self._remember(tracker)
        try:
            await self._flush_unsaved(exclude=tracker.sender_id)
            published = self._save(tracker)
        except sa.exc.SQLAlchemyError:
            self._unsaved[tracker.sender_id] = tracker
            raise
        self._unsaved.pop(tracker.sender_id, None)
        # The event broker gets what was written (Rasa's stream_events would read the whole
        # tracker back once more for the difference).
        if self.event_broker is not None:
            for event in published:
                self.event_broker.publish({"sender_id": tracker.sender_id, **event})
        await self._maybe_sweep(time.time())

    async def _flush_unsaved(self, exclude: str | None = None) -> None:
        for sender in [s for s in self._unsaved if s != exclude]:
            tracker = self._unsaved[sender]
            self._save(tracker)  # raises while the database is still away
            self._unsaved.pop(sender, None)
            log.warning("tracker: a conversation's turns kept during an outage are saved")

    def _save(self, tracker: DialogueStateTracker) -> list[dict[str, Any]]:
        """Writes the new events; returns them as written (redacted)."""
        published: list[dict[str, Any]] = []
        now = time.time()
        sender = tracker.sender_id
        brand = tracker.get_slot("brand")
        subjects: set[str] = set()
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = event.as_dict()
                row = self.SQLEvent(
                    sender_id=sender,
                    type_name=event.type_name,
                    timestamp=data.get("timestamp"),
                    intent_name=((data.get("parse_data") or {}).get("intent") or {}).get("name"),
                    action_name=data.get("name"),
                    data=json.dumps(redacted := redact_event(data)),
                )
                published.append(redacted)
                session.add(row)
                subjects |= subjects_of(data, brand)
                if event.type_name in RESETS:
                    session.query(LiveValue).filter(LiveValue.sender_id == sender).delete()
                elif event.type_name == "slot" and data.get("name") in LIVE_SLOTS:
                    session.flush()  # the row's id
                    self._keep_live(session, sender, data["name"], data.get("value"), row.id, now)
            for subject in subjects:
                session.merge(Subject(sender_id=sender, subject=subject))
            session.query(LiveValue).filter(LiveValue.sender_id == sender).update(
                {LiveValue.touched_at: now}, synchronize_session=False)
            session.commit()
        return published

    @staticmethod
    def _keep_live(session: Any, sender: str, slot: str, value: Any, event_id: int,
                   now: float) -> None:
        # Delete, then insert: a sweep in another replica deleting the row meanwhile cannot
        # make this fail (an UPDATE of a vanished row would).
        session.query(LiveValue).filter(
            LiveValue.sender_id == sender, LiveValue.slot == slot).delete()
        if value is not None:
            session.add(LiveValue(sender_id=sender, slot=slot, event_id=event_id,
                                  value=json.dumps(value), set_at=now, touched_at=now))

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        try:
            tracker = await self._read(sender_id, fetch_events_from_all_sessions)
        except sa.exc.SQLAlchemyError:
            known = self._last_known.get(sender_id) if not fetch_events_from_all_sessions else None
            if known is None or self.domain is None:
                raise  # Rasa's FailSafeTrackerStore goes on in memory
            log.warning("tracker: database away; a conversation goes on from this process's "
                        "copy")
            return DialogueStateTracker.from_events(sender_id, known, self.domain.slots)
        if tracker is not None and not fetch_events_from_all_sessions:
            self._remember(tracker)
        return tracker

    def _remember(self, tracker: DialogueStateTracker) -> None:
        """The last events this process read or wrote of a conversation, for outages only."""
        self._last_known[tracker.sender_id] = list(tracker.events)
        self._last_known.move_to_end(tracker.sender_id)
        while len(self._last_known) > LAST_KNOWN_CONVERSATIONS:
            self._last_known.popitem(last=False)

    async def _read(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        if self._unsaved:
            await self._flush_unsaved()
        with self.session_scope() as session:
            rows = self._event_query(
                session, sender_id, fetch_events_from_all_sessions=fetch_events_from_all_sessions
            ).all()
            live = {
                item.slot: (item.event_id, json.loads(item.value))
                for item in session.query(LiveValue).filter(LiveValue.sender_id == sender_id)
            }
            events = with_live_values(((row.id, json.loads(row.data)) for row in rows), live)
        if self.domain and events:
            return DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        return None

    async def _stream_new_events(
        self, event_broker: EventBroker, new_events: list[Event], sender_id: str
    ) -> None:
        """An event broker gets what the table gets: redacted events."""
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **redact_event(event.as_dict())})

    # --- forgetting ---

    def sweep_live_values(self, now: float | None = None) -> int:
        """Drop clear values of sessions that are over, or older than ``live_hours``."""
        now = time.time() if now is None else now
        max_age = self.live_hours * 3600
        config = self.domain.session_config
        idle = config.session_expiration_time * 60 if config.are_sessions_enabled() else max_age
        with self.session_scope() as session:
            dropped = session.query(LiveValue).filter(sa.or_(
                LiveValue.touched_at < now - min(idle, max_age),
                LiveValue.set_at < now - max_age,
            )).delete(synchronize_session=False)
            session.commit()
        return int(dropped or 0)

    def delete_older_than(self, days: float, now: float | None = None) -> tuple[int, int]:
        """Delete conversations idle for ``days`` and the sessions older than that of the
        others (never a conversation's current session). Returns (conversations, events)."""
        cutoff = (time.time() if now is None else now) - days * 86400
        events = self.SQLEvent.__table__
        with self.session_scope() as session:
            stale = [sender for (sender,) in session.execute(
                sa.select(events.c.sender_id).group_by(events.c.sender_id)
                .having(sa.func.max(events.c.timestamp) < cutoff))]
            conversations = self._erase(session, stale)
            later = events.alias("later")
            current_start = (
                sa.select(sa.func.max(later.c.timestamp))
                .where(later.c.sender_id == events.c.sender_id,
                       later.c.type_name == "session_started")
                .scalar_subquery())
            older = session.execute(events.delete().where(
                events.c.timestamp < cutoff, events.c.timestamp < current_start)).rowcount
            session.commit()
        return conversations, int(older or 0)

    def redact_stored(self, batch: int = 500) -> int:
        """Redact rows written before this store (or by Rasa's own SQL store): a one-time
        migration. Live slots lose their clear value (a running form asks again)."""
        events = self.SQLEvent.__table__
        changed, last_id = 0, 0
        while True:
            with self.session_scope() as session:
                rows = session.execute(
                    sa.select(events.c.id, events.c.data).where(events.c.id > last_id)
                    .order_by(events.c.id).limit(batch)).all()
                for row_id, data in rows:
                    redacted = json.dumps(redact_event(json.loads(data)))
                    if redacted != data:
                        session.execute(events.update().where(events.c.id == row_id)
                                        .values(data=redacted))
                        changed += 1
                session.commit()
            if len(rows) < batch:
                return changed
            last_id = rows[-1][0]

    def conversations_of(self, subjects: Iterable[str]) -> set[str]:
        """The conversations indexed under any of these subjects."""
        subjects = list(subjects)
        if not subjects:
            return set()
        with self.session_scope() as session:
            return {sender for (sender,) in session.query(Subject.sender_id).filter(
                Subject.subject.in_(subjects))}

    def erase(self, sender_ids: Iterable[str]) -> int:
        """Delete these conversations entirely; returns how many had events."""
        with self.session_scope() as session:
            erased = self._erase(session, list(sender_ids))
            session.commit()
        return erased

    def _erase(self, session: Any, sender_ids: list[str]) -> int:
        erased = 0
        for start in range(0, len(sender_ids), 500):
            chunk = sender_ids[start:start + 500]
            erased += len({sender for (sender,) in session.query(self.SQLEvent.sender_id)
                           .filter(self.SQLEvent.sender_id.in_(chunk)).distinct()})
            for table in (self.SQLEvent, LiveValue, Subject):
                session.query(table).filter(table.sender_id.in_(chunk)).delete(
                    synchronize_session=False)
        return erased

    async def _maybe_sweep(self, now: float) -> None:
        """From a turn's save, now and then; in a thread, so a long retention delete does
        not hold up the other conversations."""
        retention = now - self._retention_swept >= RETENTION_SWEEP_SECONDS
        if retention or now - self._live_swept >= LIVE_SWEEP_SECONDS:
            self._live_swept = now
            if retention:
                self._retention_swept = now
            await asyncio.to_thread(self._sweep, now, retention)

    def _sweep(self, now: float, retention: bool) -> None:
        """Never costs a turn or the start: a failed sweep is logged and tried again later."""
        try:
            dropped = self.sweep_live_values(now)
            if dropped:
                log.info("tracker: clear values of %d ended conversations dropped", dropped)
            if retention:
                conversations, events = self.delete_older_than(self.retention_days, now)
                if conversations or events:
                    log.info("tracker retention (%g days): %d conversations and %d events of "
                             "older sessions deleted", self.retention_days, conversations, events)
        except sa.exc.SQLAlchemyError:
            log.exception("tracker sweep failed; tried again later")
