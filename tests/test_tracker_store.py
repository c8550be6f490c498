"""The tracker store on a real SQLite file: what reaches the disk, what the running
conversation still reads, retention and erasure (bot/tracker_store.py)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from rasa.shared.core.events import (
    BotUttered,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import bot.tracker_store as tracker_store_module
from actions.session import ActionSessionStart
from actions.step_up import VERIFIED
from bot.tracker_store import (
    RETENTION_ENV,
    RedactingSQLTrackerStore,
    customer_subject,
    phone_subject,
)
from identity import TOKEN_METADATA_KEY
from identity.minting import mint_channel_assertion, mint_customer_token
from scripts import erase_conversations

EMAIL = "mario.rossi@example.it"
OTHER_EMAIL = "m.rossi.lavoro@example.it"
IBAN = "IT60X0542811101000000123456"
PHONE = "+393331234567"
DAY = 86400


@pytest.fixture(autouse=True)
def _defaults(monkeypatch):
    for name in (RETENTION_ENV, "PERSONAL_DATA_MAX_HOURS", "RASA_TRACKER_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "rasa_tracker.sqlite3"


@pytest.fixture
def store(db: Path, domain) -> RedactingSQLTrackerStore:
    return RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db),
                                    sweep_on_start=False)


def turn(store: RedactingSQLTrackerStore, sender: str, *events: Event, new: bool = False):
    """One turn as Rasa runs it: tracker from the store, events appended, saved.
    ``new``: a conversation with only these events (no fresh ``action_listen``)."""

    async def run():
        tracker = store.init_tracker(sender) if new else await store.get_or_create_tracker(
            sender)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
        return tracker

    return asyncio.run(run())


def retrieve(store: RedactingSQLTrackerStore, sender: str, full: bool = False):
    return asyncio.run(store.retrieve_full_tracker(sender) if full else store.retrieve(sender))


def disk(db: Path) -> str:
    """Everything in the database file, deleted pages included."""
    return db.read_bytes().decode("latin-1")


def event_rows(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return "\n".join(data for (data,) in conn.execute("select data from events"))


def user(text: str, metadata: dict[str, Any] | None = None, ts: float | None = None,
         entities: list[dict[str, Any]] | None = None) -> UserUttered:
    parse = {"intent": {"name": "inform", "confidence": 0.9}, "entities": entities or [],
             "text": text}
    return UserUttered(text, parse["intent"], parse["entities"], parse, timestamp=ts,
                       metadata=metadata)


def new_session(metadata: dict[str, Any], brand: str | None = None) -> list[Event]:
    """What Rasa appends at a session start: its metadata slot, then actions/session.py."""
    slots = {"session_started_metadata": metadata, "brand": brand}
    sdk = Tracker("x", slots, {}, [], False, None, {}, "action_listen")
    returned = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), sdk, {}))
    return [SlotSet("session_started_metadata", metadata)] + [
        Event.from_parameters(e) for e in returned]


# --- 1. what reaches the disk --------------------------------------------------------------


def test_identity_tokens_are_never_written(store, db):
    token = mint_customer_token(7, "cavita")
    metadata = {TOKEN_METADATA_KEY: token, "brand": "cavita",
                "context": {"recent_intents": ["chiedi_codice"], "form": None}}
    turn(store, "web:web-1", *new_session(metadata), user("quante cifre ha il codice?", metadata))
    assert token not in disk(db) and "eyJ" not in disk(db)
    stored = [json.loads(line) for line in event_rows(db).splitlines()]
    first_user = next(e for e in stored if e["event"] == "user")
    assert first_user["metadata"] == {"brand": "cavita",
                                      "context": {"recent_intents": ["chiedi_codice"],
                                                  "form": None}}
    assert retrieve(store, "web:web-1").get_slot("brand") == "cavita"


def test_typed_codes_are_masked_and_the_form_still_sees_its_outcome(store, db):
    turn(store, "whatsapp:+39", user("482913"), SlotSet("step_up_code", "482913"),
         SlotSet("step_up_code", VERIFIED))
    assert "482913" not in disk(db)
    assert retrieve(store, "whatsapp:+39").get_slot("step_up_code") == VERIFIED


def test_emails_and_ibans_are_masked_in_texts_entities_and_bot_replies(store, db):
    turn(store, "web:a",
         user(f"scrivetemi a {EMAIL}", entities=[{"entity": "email", "value": EMAIL}]),
         user(f"iban {IBAN}"),
         BotUttered(f"Riepilogo della richiesta:\n- e-mail per la risposta: {EMAIL}"))
    rows = event_rows(db)
    assert EMAIL not in disk(db) and IBAN not in disk(db)
    assert "m***@example.it" in rows and "IT** **** 3456" in rows


# --- the running conversation keeps working ------------------------------------------------


def test_forms_read_back_clear_values_that_only_a_side_table_holds(store, db):
    turn(store, "web:a", user(EMAIL), SlotSet("support_email", EMAIL),
         SlotSet("sr_iban", IBAN), SlotSet("pay_installments", "id:12345,id:12346"))
    turn(store, "web:a", user("informazioni sulla polizza"), SlotSet("support_reason", "polizza"))
    again = retrieve(store, "web:a")  # a later turn, as Rasa re-reads it
    assert again.get_slot("support_email") == EMAIL
    assert again.get_slot("sr_iban") == IBAN
    assert again.get_slot("pay_installments") == "id:12345,id:12346"
    rows = event_rows(db)
    assert EMAIL not in rows and IBAN not in rows


def test_a_changed_or_emptied_value_leaves_nothing_in_clear(store, db):
    turn(store, "web:a", user(EMAIL), SlotSet("support_email", EMAIL))
    turn(store, "web:a", user(f"scusa, la mail giusta è {OTHER_EMAIL}"),
         SlotSet("support_email", OTHER_EMAIL))
    assert retrieve(store, "web:a").get_slot("support_email") == OTHER_EMAIL
    assert EMAIL not in disk(db)
    turn(store, "web:a", user("anzi no"), SlotSet("support_email", EMAIL),
         SlotSet("support_email", OTHER_EMAIL))  # twice in one turn: the last one counts
    assert retrieve(store, "web:a").get_slot("support_email") == OTHER_EMAIL
    assert EMAIL not in disk(db)
    turn(store, "web:a", user("sì, invia"), SlotSet("support_email", None))
    assert retrieve(store, "web:a").get_slot("support_email") is None
    assert OTHER_EMAIL not in disk(db)


def test_personal_slots_end_with_the_session(store, db):
    """Point 4: the next session carries only the brand, and the clear values go with it."""
    turn(store, "web:a", *new_session({"brand": "cavita"}), user(EMAIL),
         SlotSet("support_email", EMAIL), SlotSet("sr_iban", IBAN),
         SlotSet("requested_slot", "support_text"))
    later = turn(store, "web:a", *new_session({"brand": "alleanza"}, brand="cavita"),
                 user("ciao"))
    assert later.get_slot("support_email") is None and later.get_slot("requested_slot") is None
    again = retrieve(store, "web:a")
    assert (again.get_slot("brand"), again.get_slot("support_email")) == ("alleanza", None)
    assert EMAIL not in disk(db) and IBAN not in disk(db)
    history = retrieve(store, "web:a", full=True)  # older sessions: masked values only
    values = [e.value for e in history.events
              if isinstance(e, SlotSet) and e.key == "support_email"]
    assert values == ["m***@example.it"]


def test_idle_conversations_lose_their_clear_values(store, db):
    """Idle past the session expiry (60 minutes in domain/core.yml): the session is over."""
    turn(store, "web:a", user(EMAIL), SlotSet("support_email", EMAIL))
    assert store.sweep_live_values(now=time.time() + 30 * 60) == 0
    assert store.sweep_live_values(now=time.time() + 61 * 60) == 1
    assert EMAIL not in disk(db)
    # Were the customer still in the form, it would ask again rather than send "m***@...".
    assert retrieve(store, "web:a").get_slot("support_email") is None


def test_a_running_server_sweeps_now_and_then_from_its_saves(store, db):
    turn(store, "web:a", user(EMAIL), SlotSet("support_email", EMAIL))
    with sqlite3.connect(db) as conn:  # the customer left two hours ago
        conn.execute("update conversation_live_values set touched_at = touched_at - 7200")
    turn(store, "web:b", user("ciao"))  # another conversation, within five minutes: no sweep
    assert EMAIL in disk(db)
    store._live_swept -= 301
    turn(store, "web:b", user("grazie"))
    assert EMAIL not in disk(db)


def test_clear_values_last_at_most_the_configured_hours(monkeypatch, db, domain):
    monkeypatch.setenv("PERSONAL_DATA_MAX_HOURS", "2")
    store = RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db),
                                     sweep_on_start=False)
    turn(store, "web:a", user(EMAIL), SlotSet("support_email", EMAIL))
    with sqlite3.connect(db) as conn:  # set 3 hours ago, the conversation active since
        conn.execute("update conversation_live_values set set_at = set_at - 3 * 3600")
    assert store.sweep_live_values() == 1
    assert EMAIL not in disk(db)


def test_event_broker_gets_redacted_events(db, domain):
    published: list[dict[str, Any]] = []

    class Broker:
        def publish(self, event: dict[str, Any]) -> None:
            published.append(event)

    store = RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db),
                                     event_broker=Broker(), sweep_on_start=False)
    token = mint_customer_token(1, "alleanza")
    turn(store, "web:a", user(EMAIL, {TOKEN_METADATA_KEY: token}), SlotSet("support_email", EMAIL))
    assert published and EMAIL not in repr(published) and token not in repr(published)


def test_rows_written_in_clear_before_the_upgrade_can_be_redacted(monkeypatch, db, domain,
                                                                  capsys):
    from rasa.core.tracker_store import SQLTrackerStore

    token = mint_customer_token(2, "alleanza")
    old_store = SQLTrackerStore(domain=domain, dialect="sqlite", db=str(db))  # Rasa's own
    turn(old_store, "web:a", user(EMAIL, {TOKEN_METADATA_KEY: token}),
         SlotSet("support_email", EMAIL))
    assert token in event_rows(db) and EMAIL in event_rows(db)
    monkeypatch.setenv("RASA_TRACKER_DB", str(db))
    assert erase_conversations.main(["--redact-existing"]) == 0
    assert "2 stored events redacted" in capsys.readouterr().out  # the user message, the slot
    assert token not in disk(db) and EMAIL not in disk(db)


# --- 2. retention --------------------------------------------------------------------------


def _old_and_new(store: RedactingSQLTrackerStore, now: float) -> None:
    old = now - 40 * DAY
    token = mint_customer_token(3, "alleanza")
    turn(store, "web:old", SessionStarted(timestamp=old),
         user("ciao", {TOKEN_METADATA_KEY: token}, ts=old + 1),
         SlotSet("support_email", EMAIL, timestamp=old + 2), new=True)
    turn(store, "web:busy", SessionStarted(timestamp=old), user("vecchia domanda", ts=old + 1),
         new=True)
    turn(store, "web:busy", SessionStarted(timestamp=now - 10), user("nuova domanda", ts=now - 5))


def test_retention_deletes_idle_conversations_and_older_sessions(store, db):
    now = time.time()
    _old_and_new(store, now)
    assert store.delete_older_than(30, now) == (1, 2)  # one conversation; 2 old events
    assert retrieve(store, "web:old", full=True) is None
    busy = retrieve(store, "web:busy", full=True)
    assert [e.text for e in busy.events if isinstance(e, UserUttered)] == ["nuova domanda"]
    with sqlite3.connect(db) as conn:
        for table in ("conversation_live_values", "conversation_subjects"):
            assert conn.execute(f"select count(*) from {table} where sender_id = 'web:old'"
                                ).fetchone()[0] == 0
    assert store.delete_older_than(30, now) == (0, 0)


def test_retention_sweep_runs_when_rasa_starts_once_per_process(monkeypatch, store, db, domain):
    monkeypatch.setattr(tracker_store_module, "_swept_at_start", set())
    monkeypatch.setenv(RETENTION_ENV, "30")
    _old_and_new(store, time.time())
    RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db))  # Rasa starting
    assert retrieve(store, "web:old") is None and retrieve(store, "web:busy") is not None
    _old_and_new(store, time.time())
    RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db))  # same process
    assert retrieve(store, "web:old") is not None


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_a_bad_retention_setting_stops_the_start(monkeypatch, db, domain, value):
    monkeypatch.setenv(RETENTION_ENV, value)
    with pytest.raises(ValueError, match=RETENTION_ENV):
        RedactingSQLTrackerStore(domain=domain, dialect="sqlite", db=str(db))


def test_retention_command(monkeypatch, store, db, capsys):
    _old_and_new(store, time.time())
    monkeypatch.setenv("RASA_TRACKER_DB", str(db))
    assert erase_conversations.main(["--older-than-days", "30"]) == 0
    assert "1 conversations idle for more than 30 days deleted" in capsys.readouterr().out
    assert retrieve(store, "web:old") is None and retrieve(store, "web:busy") is not None


# --- 3. erasure on request -----------------------------------------------------------------


def _customers(store: RedactingSQLTrackerStore) -> None:
    seven = mint_customer_token(7, "cavita")
    turn(store, "web:seven", user(EMAIL, {TOKEN_METADATA_KEY: seven}))
    whatsapp = mint_channel_assertion(PHONE, brand="cavita")
    turn(store, "whatsapp:" + PHONE, *new_session({"brand": "cavita"}),
         user("ciao", {TOKEN_METADATA_KEY: whatsapp}), SlotSet("step_up_customer", "7"))
    one = mint_customer_token(1, "alleanza")
    turn(store, "web:one", user("ciao", {TOKEN_METADATA_KEY: one}))


def test_the_index_holds_keyed_hashes_only(store, db):
    _customers(store)
    with sqlite3.connect(db) as conn:
        subjects = {s for (s,) in conn.execute("select subject from conversation_subjects")}
    assert subjects == {customer_subject("cavita", "7"), phone_subject(PHONE),
                        customer_subject("alleanza", "1")}
    assert all(len(s) == 64 and PHONE not in s for s in subjects)


def test_a_missing_index_key_never_costs_a_turn(monkeypatch, store):
    whatsapp = mint_channel_assertion(PHONE)
    monkeypatch.delenv("CHAT_TICKET_SECRET", raising=False)
    monkeypatch.setenv("CUSTOMER_JWT_SECRET", "short")  # refused: under 32 bytes
    turn(store, "whatsapp:" + PHONE, user("ciao", {TOKEN_METADATA_KEY: whatsapp}))
    assert retrieve(store, "whatsapp:" + PHONE) is not None


def test_erasing_a_customer_finds_the_website_and_the_stepped_up_whatsapp_conversation(
        monkeypatch, store, db, capsys):
    _customers(store)
    monkeypatch.setenv("RASA_TRACKER_DB", str(db))
    assert erase_conversations.main(["--customer", "7"]) == 0
    assert "2 conversations erased" in capsys.readouterr().out
    assert retrieve(store, "web:seven") is None and retrieve(store, "whatsapp:" + PHONE) is None
    assert retrieve(store, "web:one") is not None


def test_erasing_a_phone_number(monkeypatch, store, db, capsys):
    _customers(store)
    monkeypatch.setenv("RASA_TRACKER_DB", str(db))
    assert erase_conversations.main(["--phone", "+39 333 123 4567"]) == 0
    assert "1 conversations erased" in capsys.readouterr().out
    assert retrieve(store, "whatsapp:" + PHONE) is None
    assert retrieve(store, "web:seven") is not None


def test_erasure_also_finds_conversations_written_before_the_index(store):
    """The widget's per-customer conversation id is derived from the identity itself."""
    from bot.channels.socketio_jwt import customer_conversation

    conversation = customer_conversation("alleanza", "4")
    turn(store, conversation, user("ciao"))  # no token: nothing indexed
    assert erase_conversations.erase_identity(store, "4", ["alleanza", "cavita"], None) == 1
    assert retrieve(store, conversation) is None


@pytest.mark.parametrize("argv", [[], ["--customer", "7/../8"], ["--phone", "ciao"],
                                  ["--older-than-days", "0"], ["--customer", "7", "--brand", "x"]])
def test_the_command_refuses_unclear_requests(argv):
    with pytest.raises(SystemExit) as exit_:
        erase_conversations.main(argv)
    assert exit_.value.code == 2
