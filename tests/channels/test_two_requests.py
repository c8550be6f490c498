"""Two requests in one message: the first answered, the second offered
(bot/channels/two_requests.py, wired in bot/channels/turn_context.py)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActiveLoop, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels import two_requests
from bot.channels.turn_context import with_turn_context
from bot.channels.typed_buttons import button_choice, shown_buttons

CODE = "non mi arriva il codice"
MAIL = "come cambio la mail di accesso"
READINGS = {
    CODE: ("faq_codice_non_ricevuto", 0.93),
    MAIL: ("faq_modifica_credenziali", 0.88),
    f"{CODE}. e poi {MAIL}?": ("nlu_fallback", 0.3),
    f"{CODE} e poi {MAIL}": ("faq_modifica_credenziali", 0.6),
    "grazie mille davvero": ("ringraziamento", 0.97),
    "boh non so proprio": ("fuori_ambito", 0.4),
    f"{CODE}. ho cambiato telefono": ("faq_recapito_dispositivo_modifica", 0.9),
    "ho cambiato telefono": ("faq_accesso", 0.7),
}


class _Agent:
    def __init__(self, tracker=None):
        self.tracker_store = _Store(tracker)

    async def parse_message(self, text):
        name, confidence = READINGS.get(text.rstrip("?."), ("nlu_fallback", 0.2))
        return {"text": text, "intent": {"name": name, "confidence": confidence}}


class _Store:
    def __init__(self, tracker):
        self.tracker = tracker

    async def retrieve(self, sender_id):
        return self.tracker

    async def save(self, tracker):
        self.tracker = tracker


@pytest.mark.parametrize("text,expected", [
    ("non mi arriva il codice. e poi come cambio la mail?",
     ["non mi arriva il codice.", "come cambio la mail?"]),
    ("come pago la rata? dove trovo le ricevute?",
     ["come pago la rata?", "dove trovo le ricevute?"]),
    ("ho dimenticato la password inoltre non vedo la polizza",
     ["ho dimenticato la password", "non vedo la polizza"]),
    ("ciao! come mi registro?", ["come mi registro?"]),          # a greeting is no request
    ("come lo cambio?", ["come lo cambio?"]),
])
def test_parts_are_cut_where_a_person_cuts(text, expected):
    assert two_requests.parts(text) == expected


def test_two_clear_requests_go_on_with_the_first_and_offer_the_second():
    plan = asyncio.run(two_requests.plan(_Agent(), f"{CODE}. e poi {MAIL}?"))
    assert plan is not None and plan.text == f"{CODE}."
    assert plan.offer == {"title": "Cambiare nome utente o password",
                          "payload": "/faq_modifica_credenziali"}


def test_a_whole_read_as_the_second_offers_the_first():
    plan = asyncio.run(two_requests.plan(_Agent(), f"{CODE} e poi {MAIL}"))
    assert plan is not None and plan.text == f"{CODE} e poi {MAIL}"
    assert plan.offer["payload"] == "/faq_codice_non_ricevuto"


@pytest.mark.parametrize("text", [
    f"{CODE}. grazie mille davvero",        # small talk is not a second request
    f"{CODE}. boh non so proprio",          # an unclear part is not a request
    f"{CODE}. {CODE}",                      # the same request twice
    "come lo cambio?",                      # one request
    f"{CODE}. ho cambiato telefono",        # the whole surely says a third thing
])
def test_anything_else_is_one_request(text):
    assert asyncio.run(two_requests.plan(_Agent(), text)) is None


def _turn(tracker, text):
    agent = _Agent(tracker)
    received = []

    async def on_new_message(message):
        received.append(message.text)

    output = CollectingOutputChannel()
    handler = with_turn_context(on_new_message, agent_of=lambda: agent)
    asyncio.run(handler(UserMessage(text, output, "u1", metadata={"brand": "alleanza"})))
    return received, output.messages, agent.tracker_store.tracker


def test_the_channel_answers_the_first_and_keeps_the_offer_for_a_typed_yes():
    tracker = DialogueStateTracker.from_events("u1", [])
    received, sent, kept = _turn(tracker, f"{CODE}. e poi {MAIL}?")
    assert received == [f"{CODE}."]
    assert sent[-1]["text"] == two_requests.OFFER_TEXT
    assert sent[-1]["buttons"][0]["payload"] == "/faq_modifica_credenziali"
    buttons, _ = shown_buttons(list(kept.events))
    assert button_choice("sì", buttons) == "/faq_modifica_credenziali"


def test_inside_a_form_the_message_answers_the_form():
    tracker = DialogueStateTracker.from_events("u1", [
        UserUttered("apri richiesta", intent={"name": "apri_richiesta_supporto"}),
        ActiveLoop("support_form"), BotUttered("Scrivi la tua richiesta")])
    received, sent, _ = _turn(tracker, f"{CODE}. e poi {MAIL}?")
    assert received == [f"{CODE}. e poi {MAIL}?"]
    assert not any(m.get("text") == two_requests.OFFER_TEXT for m in sent)
