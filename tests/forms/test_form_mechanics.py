"""The shared form mechanics (actions/form_base.py) on their own: what counts as a yes, a
hold, a deferral, a description; the whole forms run in tests/conversations/."""

from __future__ import annotations

import re

import pytest

from actions.form_base import (
    DEFER,
    DEFER_TO_FETCH,
    HOLD,
    Answer,
    GuidedForm,
    fresh_answer,
    prose_answer,
    words_of,
    yes_or_no,
)
from actions.support import email_in


@pytest.mark.parametrize("text,intent,expected", [
    ("sì, invia", None, "si"), ("si procedi", None, "si"), ("Sì invia!", "paga_rata", "si"),
    ("ok", None, "si"), ("va bene mandala", None, "si"), ("/conferma", "conferma", "si"),
    ("certo", None, "si"), ("no", None, "no"), ("no grazie", None, "no"),
    ("non inviare", None, "no"), ("/negazione", "negazione", "no"),
    ("forse", None, None), ("boh", None, None), ("la mail è sbagliata", None, None),
    ("esatto", None, "si"), ("assolutamente si", None, "si"),
])
def test_yes_or_no(text, intent, expected):
    assert yes_or_no(text, intent) == expected


@pytest.mark.parametrize("text,held", [
    ("aspetta un attimo", True), ("un momento", True), ("boh", True), ("mmm", True),
    ("un attimo che ci penso", True), ("ci penso", True),
    ("non lo so", True), ("fammi controllare", True), ("Aspetta!", True),
    ("mario@example.it", False), ("la prima", False), ("navigazione", False),
])
def test_holds(text, held):
    assert bool(HOLD.match(words_of(text))) is held


@pytest.mark.parametrize("text,deferred", [
    ("lascia stare per ora, devo cercare i documenti", True),
    ("ci penso e ti faccio sapere", True), ("non ce l'ho qui, torno dopo", True),
    ("un attimo che ci penso", False),
    ("riprovo più tardi", True), ("per ora no", True),
    ("ci penso e ti riscrivo", True), ("mmm no lascia stare, pago dal sito", True),
    ("no niente, lascio perdere il riscatto", True), ("ci ho ripensato", True),
    ("il rubinetto ha allagato la cucina ieri sera", False), ("500 euro", False),
])
def test_deferrals(text, deferred):
    words = words_of(text)
    assert bool(DEFER.search(words) or DEFER_TO_FETCH.search(words)) is deferred


@pytest.mark.parametrize("text,ok", [
    ("non riesco ad accedere all'app dopo l'aggiornamento", True),
    ("ok va bene grazie", False), ("aspetta un attimo", False), ("boh non so", False),
    ("grandine sul tetto", True), ("si si ok", False),
])
def test_prose_answers(text, ok):
    assert prose_answer(text) is ok


class _Form(GuidedForm):
    answers = (
        Answer("email", re.compile(r"\b(mail|indirizzo)\b"), email_in),
        Answer("text", re.compile(r"\b(testo)\b"), prose=True),
    )

    def name(self) -> str:
        return "validate_x_form"


@pytest.mark.parametrize("asking,text,slot,value", [
    ("text", "scusa, la mail giusta è mario.rossi@example.it", "email", "mario.rossi@example.it"),
    ("text", "cambia la mail", "email", None),
    ("confirm", "no la mail è m.rossi@example.it", "email", "m.rossi@example.it"),
])
def test_corrections_are_recognised(asking, text, slot, value):
    answers = {a.slot: a for a in _Form.answers}
    found = _Form()._correction(answers, asking, text, words_of(text))
    assert found is not None and found[0].slot == slot and found[1] == value


@pytest.mark.parametrize("asking,text", [
    ("email", "mario.rossi@example.it"),  # the answer itself, not a correction
    ("text", "mi hanno mandato una mail sbagliata con la password, non funziona piu"),
])
def test_answers_that_only_name_a_field_are_not_corrections(asking, text):
    answers = {a.slot: a for a in _Form.answers}
    assert _Form()._correction(answers, asking, text, words_of(text)) is None


def test_fresh_answer_tells_a_new_message_from_a_rerun():
    new = [{"event": "user", "text": "x"}, {"event": "action", "name": "action_extract_slots"},
           {"event": "action", "name": "support_form"}]
    rerun = [{"event": "user", "text": "nuovo codice"},
             {"event": "action", "name": "action_reinvia_codice"},
             {"event": "action", "name": "support_form"}]

    class T:
        def __init__(self, events):
            self.events = events
    assert fresh_answer(T(new), "support_form")
    assert not fresh_answer(T(rerun), "support_form")


def test_a_cleared_slot_is_not_judged_as_an_answer():
    """The step-up clears its code before the form starts: no «non mi sembra il codice»."""
    import asyncio

    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.step_up import ValidateStepUpForm

    events = [{"event": "user", "text": "mi dici il mio recapito dispositivo?"},
              {"event": "slot", "name": "step_up_code", "value": None},
              {"event": "slot", "name": "requested_slot", "value": None},
              {"event": "action", "name": "step_up_form"},
              {"event": "slot", "name": "step_up_code", "value": None}]
    tracker = Tracker("u1", {"step_up_code": None}, {"text": events[0]["text"]}, events,
                      False, None, {}, "step_up_form")
    dispatcher = CollectingDispatcher()
    asyncio.run(ValidateStepUpForm().run(dispatcher, tracker, {"forms": {"step_up_form": {
        "required_slots": ["step_up_code"]}}}))
    assert dispatcher.messages == []
