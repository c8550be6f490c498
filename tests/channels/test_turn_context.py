"""Each message is read with its conversation: typed buttons and the recent intents
(bot/channels/turn_context.py)."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActiveLoop, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.turn_context import last_answers, recent_intents, with_turn_context

CONFIRM = [{"title": "Sì, invia", "payload": "/conferma"}, {"title": "No", "payload": "/negazione"}]


def _user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, intent={"name": intent, "confidence": 0.9})


def _tracker(*events):
    return DialogueStateTracker.from_events("u1", list(events))


class _Store:
    def __init__(self, tracker=None, down=False):
        self.tracker, self.down = tracker, down

    async def retrieve(self, sender_id):
        if self.down:
            raise ConnectionError("tracker store down")
        return self.tracker


class _Agent:
    def __init__(self, store):
        self.tracker_store = store


def _run(tracker, *texts, down=False):
    received = []

    async def on_new_message(message):
        received.append((message.text, (message.metadata or {}).get("context")))

    handler = with_turn_context(on_new_message, agent_of=lambda: _Agent(_Store(tracker, down)))
    for text in texts:
        asyncio.run(handler(UserMessage(text, CollectingOutputChannel(), "u1",
                                        metadata={"brand": "alleanza"})))
    return received


def test_recent_intents_are_newest_first_and_stop_at_the_session_start():
    events = [_user("vecchia", "le_mie_polizze"), SessionStarted(),
              _user("qual e il mio recapito", "mio_recapito_dispositivo"), BotUttered("...4567"),
              _user("grazie", "ringraziamento"), BotUttered("Prego")]
    assert recent_intents(events) == ["ringraziamento", "mio_recapito_dispositivo"]


def test_a_typed_label_becomes_the_payload_and_carries_no_context():
    tracker = _tracker(_user("apri richiesta", "apri_richiesta_supporto"),
                       BotUttered("La invio?", {"buttons": CONFIRM}))
    assert _run(tracker, "sì, invia") == [("/conferma", None)]


def test_a_sentence_gets_the_recent_intents_and_the_form_in_progress():
    tracker = _tracker(_user("qual e il mio recapito", "mio_recapito_dispositivo"),
                       BotUttered("Il tuo recapito termina con 4567"))
    [(text, context)] = _run(tracker, "come lo cambio?")
    assert text == "come lo cambio?"
    assert context == {"recent_intents": ["mio_recapito_dispositivo"], "form": None,
                       "last_answers": []}
    in_form = _tracker(_user("apri richiesta", "apri_richiesta_supporto"),
                       ActiveLoop("support_form"), BotUttered("A che e-mail?"))
    assert _run(in_form, "come lo cambio?")[0][1]["form"] == "support_form"


def test_a_store_that_is_down_costs_the_context_not_the_message():
    assert _run(None, "come lo cambio?", down=True) == [("come lo cambio?", None)]


def test_answers_inside_a_form_are_not_turns_of_the_subject():
    events = [_user("mi fate vedere le polizze", "le_mie_polizze"), ActiveLoop("step_up_form"),
              BotUttered("Scrivi il codice"), _user("332356", "nlu_fallback"),
              BotUttered("Non corretto"), _user("aspetta", "esitazione"),
              _user("332355", "nlu_fallback"), ActiveLoop(None), BotUttered("Ecco le polizze")]
    assert recent_intents(events) == ["le_mie_polizze"]


def test_the_last_answers_are_the_responses_since_the_last_message():
    events = [_user("pago la AL10000004", "paga_rata"),
              BotUttered("vecchia", metadata={"utter_action": "utter_faq_dove_pagare"}),
              _user("ok la AL10000004", "paga_rata"),
              BotUttered("SDD", metadata={"utter_action": "utter_pagamento_sdd_not_payable"}),
              BotUttered("Altro?", metadata={})]
    assert last_answers(events) == ["utter_pagamento_sdd_not_payable"]
    [(_, context)] = _run(_tracker(*events), "e come faccio a cambiare?")
    assert context["last_answers"] == ["utter_pagamento_sdd_not_payable"]
