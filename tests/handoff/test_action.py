"""action_richiedi_operatore with an injected clock: queue and pause in hours with an
operator online; otherwise a callback request or the support form, said plainly."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionRichiediOperatore, italian_when
from handoff.clock import ROME
from handoff.presence import Presence
from handoff.queue import HandoffQueue
from identity.minting import mint_channel_assertion, mint_customer_token

MONDAY_10 = "2026-04-13T10:00:00+02:00"
EASTER_MONDAY_10 = "2026-04-06T10:00:00+02:00"
SATURDAY_10 = "2026-04-11T10:00:00+02:00"
PHONE = "+393331234567"


@pytest.fixture
def env(monkeypatch, queue_url):
    monkeypatch.setenv("HANDOFF_DATABASE_URL", queue_url)
    monkeypatch.setenv("HANDOFF_CLOCK", MONDAY_10)
    monkeypatch.delenv("HANDOFF_HOURS_ALLEANZA", raising=False)
    monkeypatch.delenv("HANDOFF_HOURS_CAVITA", raising=False)
    return monkeypatch


def online(url: str, brand: str = "alleanza") -> None:
    # The action reads presence with the system clock: the heartbeat is now.
    Presence(url).seen("OP-1", [brand])


def tracker(sender: str, metadata: dict | None = None, events: list | None = None,
            text: str = "voglio un operatore") -> Tracker:
    latest = {"text": text, "intent": {"name": "richiesta_operatore", "confidence": 0.9},
              "metadata": metadata or {}}
    events = events if events is not None else [
        {"event": "user", "text": "il codice non arriva", "timestamp": 1.0,
         "parse_data": {"intent": {"name": "faq_codice_non_ricevuto"}}},
        {"event": "bot", "text": "Controlla il numero", "timestamp": 2.0},
        {"event": "user", "text": text, "timestamp": 3.0, "metadata": metadata or {},
         "parse_data": {"intent": {"name": "richiesta_operatore"}}},
    ]
    return Tracker(sender, {"brand": "alleanza"}, latest, events, False, None, {},
                   "action_listen")


def run(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionRichiediOperatore().run(dispatcher, t, {}))
    return dispatcher.messages, events


def test_in_hours_with_an_operator_online_the_widget_customer_is_queued_and_paused(
        env, queue_url):
    online(queue_url)
    token = mint_customer_token("1", "alleanza")
    messages, events = run(tracker("web:web-abc", {"identity_token": token}))
    assert messages[0]["response"] == "utter_operatore_in_coda"
    assert messages[0]["posizione"] == 1 and messages[0]["attesa"] == "circa 5 minuti"
    assert [e["event"] for e in events] == ["pause"]
    request = HandoffQueue(queue_url).active("web:web-abc")
    assert (request.channel, request.brand, request.identity_level.value,
            request.reason.value) == ("web", "alleanza", "verified_customer",
                                      "explicit_request")


def test_the_second_in_the_queue_is_told_position_two(env, queue_url):
    online(queue_url)
    run(tracker("web:anon-1"))
    messages, _ = run(tracker(f"whatsapp:{PHONE}",
                              {"identity_token": mint_channel_assertion(PHONE)}))
    assert messages[0]["posizione"] == 2 and messages[0]["attesa"] == "circa 10 minuti"
    assert HandoffQueue(queue_url).active(f"whatsapp:{PHONE}").identity_level.value == "visitor"


def test_reasons_two_misses_and_anger(env, queue_url):
    online(queue_url)
    missed = [{"event": "user", "text": "blabla",
               "parse_data": {"intent": {"name": "nlu_fallback"}}},
              {"event": "user", "text": "/richiesta_operatore",
               "parse_data": {"intent": {"name": "richiesta_operatore"}}}]
    run(tracker("web:anon-2", events=missed))
    run(tracker("web:anon-3", {"handoff_reason": "anger", "handoff_said": "siete inutili"}))
    queue = HandoffQueue(queue_url)
    assert queue.active("web:anon-2").reason.value == "two_misunderstandings"
    assert queue.active("web:anon-3").reason.value == "anger"


def test_on_easter_monday_whatsapp_gets_a_callback_request_with_a_summary(env, queue_url):
    env.setenv("HANDOFF_CLOCK", EASTER_MONDAY_10)
    online(queue_url)  # online or not, a holiday is a holiday
    messages, events = run(tracker(f"whatsapp:{PHONE}",
                                   {"identity_token": mint_channel_assertion(PHONE)}))
    assert events == []
    assert [m["response"] for m in messages] == [
        "utter_operatore_non_disponibile", "utter_operatore_richiamata",
        "utter_richiesta_operatore"]
    assert "Lunedì dell'Angelo" in messages[0]["motivo"]
    assert messages[0]["riapertura"] == "domani alle 9:00"
    assert messages[1]["recapito"] == "al numero da cui scrivi"
    (callback,) = Presence(queue_url).callbacks()
    assert callback.conversation_id == f"whatsapp:{PHONE}"
    assert "Cliente: il codice non arriva" in callback.summary
    assert HandoffQueue(queue_url).active(f"whatsapp:{PHONE}") is None


def test_in_hours_with_nobody_online_a_visitor_gets_the_contacts_and_the_form(
        env, queue_url):
    messages, events = run(tracker("web:anon-9"))
    assert events == []
    assert [m["response"] for m in messages] == [
        "utter_operatore_non_disponibile", "utter_richiesta_operatore"]
    assert messages[0]["motivo"] == "al momento nessun operatore è collegato"
    assert "18:00" in messages[0]["riapertura"]
    assert Presence(queue_url).callbacks() == []


def test_on_saturday_a_verified_customer_gets_a_callback_on_their_contacts(env, queue_url):
    env.setenv("HANDOFF_CLOCK", SATURDAY_10)
    online(queue_url)
    token = mint_customer_token("1", "alleanza")
    messages, _ = run(tracker("web:web-x", {"identity_token": token}))
    assert messages[0]["motivo"] == "siamo fuori dall'orario dell'assistenza"
    assert messages[0]["riapertura"] == "lunedì 13 aprile alle 9:00"
    assert messages[1]["response"] == "utter_operatore_richiamata"
    assert messages[1]["recapito"] == "ai recapiti registrati nella tua Area Clienti"


@pytest.mark.parametrize("sender", ["rest:tool", "staff:AL-MI-001:S-1"])
def test_channels_without_live_chat_keep_the_contacts_answer(env, queue_url, sender):
    online(queue_url)
    messages, events = run(tracker(sender))
    assert [m["response"] for m in messages] == ["utter_richiesta_operatore"] and events == []


def test_italian_dates():
    from datetime import datetime

    now = datetime(2026, 4, 3, 17, 0, tzinfo=ROME)
    assert italian_when(datetime(2026, 4, 7, 9, 0, tzinfo=ROME), now) == (
        "martedì 7 aprile alle 9:00")
    assert italian_when(datetime(2026, 4, 3, 17, 30, tzinfo=ROME), now) == "oggi alle 17:30"


def test_the_injected_clock_is_refused_in_production(monkeypatch):
    from handoff.settings import HandoffSettings

    with pytest.raises(ValueError, match="production"):
        HandoffSettings.from_env({"HANDOFF_CLOCK": MONDAY_10, "ASSISTANT_ENV": "production"})


def test_a_new_session_keeps_a_waiting_conversation_paused(env, queue_url):
    from actions.session import ActionSessionStart

    online(queue_url)
    run(tracker("web:anon-long-wait"))
    dispatcher = CollectingDispatcher()
    started = asyncio.run(ActionSessionStart().run(
        dispatcher, tracker("web:anon-long-wait"), {}))
    assert started[-1]["event"] == "pause"
    other = asyncio.run(ActionSessionStart().run(dispatcher, tracker("web:anon-other"), {}))
    assert other[-1]["event"] == "action"
