"""The support request form: validation with hints, give-up after 3, ticket creation on
the real backend stub, anonymous users included."""

from __future__ import annotations

import re

import pytest

from actions.form_resume import ActionAnnullaModulo
from actions.support import ActionInviaRichiestaSupporto, ValidateSupportForm
from tests.actions.conftest import free_port
from tests.actions.helpers import customer_metadata, make_tracker, render, responses, run, slots_of

DOMAIN = {"forms": {"support_form": {"required_slots": [
    "support_email", "support_reason", "support_text", "support_confirm"]}}}
FILLED = {
    "support_email": "mario.rossi@example.it",
    "support_reason": "navigazione",
    "support_text": "Non riesco a scaricare la quietanza dall'app.",
    "support_confirm": "si",
}


@pytest.fixture(autouse=True)
def backend(actions_on_fresh_backend):
    """This module's own backend stub: OTP cooldowns of other modules do not leak in."""
    return actions_on_fresh_backend


def answer(slot, text, slots=None, intent="nlu_fallback", metadata=None):
    tracker = make_tracker(
        metadata, {**(slots or {}), slot: text, "requested_slot": slot},
        text=text, intent=intent, active_loop="support_form",
    )
    tracker.events.append({"event": "slot", "name": slot, "value": text})
    messages, events = run(ValidateSupportForm(), tracker, DOMAIN)
    return messages, slots_of(events)


def test_email_is_extracted_and_normalised():
    _, slots = answer("support_email", "scrivetemi a Mario.Rossi@Example.it grazie")
    assert slots["support_email"] == "mario.rossi@example.it"


def test_bad_email_reasks_with_a_hint_then_gives_up_after_three():
    failures = 0.0
    for attempt in range(3):
        messages, slots = answer("support_email", "mario at casa", {"form_failures": failures})
        failures = slots.get("form_failures", failures)
        if attempt < 2:
            assert responses(messages) == ["utter_email_non_valida"]
            assert "nome@dominio.it" in render(messages[0])
            assert slots["support_email"] is None
    assert responses(messages) == ["utter_form_troppi_tentativi"]
    assert slots["form_aborted"] is True
    assert slots["requested_slot"] is None  # the form ends


@pytest.mark.parametrize("typed,label", [
    ("navigazione", "navigazione"),
    ("non riesco a navigare nel sito", "navigazione"),
    ("informazioni sulla polizza", "informazioni sulla polizza"),
    ("info polizza", "informazioni sulla polizza"),
])
def test_reason_from_buttons_or_free_text(typed, label):
    _, slots = answer("support_reason", typed)
    assert slots["support_reason"] == label


def test_unknown_reason_reasks_with_the_two_choices():
    messages, slots = answer("support_reason", "per la pensione")
    assert responses(messages) == ["utter_motivo_non_valido"]
    assert slots["support_reason"] is None


def test_short_text_is_refused():
    messages, slots = answer("support_text", "aiuto")
    assert responses(messages) == ["utter_testo_non_valido"]


def test_a_no_instead_of_an_answer_cancels():
    messages, slots = answer("support_text", "no grazie", intent="negazione")
    assert responses(messages) == ["utter_modulo_annullato"]
    assert slots["form_aborted"] is True


def test_a_one_word_answer_classified_as_negazione_is_still_an_answer():
    messages, slots = answer("support_reason", "navigazione", intent="negazione")
    assert messages == []
    assert slots["support_reason"] == "navigazione"


@pytest.mark.parametrize("typed,intent,value", [
    ("/conferma", "conferma", "si"), ("sì", "nlu_fallback", "si"), ("no", "negazione", "no"),
])
def test_confirmation(typed, intent, value):
    _, slots = answer("support_confirm", typed, intent=intent)
    assert slots["support_confirm"] == value


def submit(slots, metadata=None):
    tracker = make_tracker(metadata, {"brand": "alleanza", **slots})
    return run(ActionInviaRichiestaSupporto(), tracker)


def test_anonymous_user_gets_a_ticket_number():
    messages, events = submit(FILLED, {"brand": "alleanza"})
    assert responses(messages) == ["utter_richiesta_supporto_inviata"]
    text = render(messages[0])
    assert re.search(r"AL-TK-\d{4}-\d{6}", text)
    assert "mario.rossi@example.it" in text  # the address typed, as in the summary
    assert all(v in (None, 0.0, False) for v in slots_of(events).values())


def test_verified_customer_ticket_uses_the_token_brand():
    metadata = {**customer_metadata(7, "cavita"), "brand": "alleanza"}
    messages, _ = submit(FILLED, metadata)
    assert re.search(r"CV-TK-\d{4}-\d{6}", render(messages[0]))


def test_declined_or_abandoned_form_sends_nothing():
    messages, _ = submit({**FILLED, "support_confirm": "no"})
    assert responses(messages) == ["utter_richiesta_supporto_non_inviata"]
    messages, _ = submit({**FILLED, "form_aborted": True})
    assert messages == []


def test_backend_down_points_to_the_other_channels(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
    messages, _ = submit(FILLED)
    assert responses(messages) == ["utter_supporto_non_disponibile"]
    assert "Riprova" in render(messages[0])


def test_cancel_clears_the_form_and_keeps_the_answers_aside():
    messages, events = run(ActionAnnullaModulo(), make_tracker(None, FILLED))
    assert responses(messages) == ["utter_modulo_sospeso"]
    assert slots_of(events)["support_email"] is None
    assert "mario.rossi@example.it" in slots_of(events)["modulo_sospeso"]


def test_a_faq_question_in_the_middle_is_answered_and_the_form_resumes():
    tracker = make_tracker(
        None, {"support_email": "come si fa il video selfie?", "requested_slot": "support_email"},
        text="come si fa il video selfie?", intent="faq_video_selfie",
        active_loop="support_form",
    )
    tracker.latest_message["intent"]["confidence"] = 0.95
    tracker.events.append({"event": "slot", "name": "support_email", "value": "x"})
    messages, events = run(ValidateSupportForm(), tracker, DOMAIN)
    assert responses(messages) == ["utter_faq_video_selfie", "utter_riprendiamo"]
    slots = slots_of(events)
    assert slots["support_email"] is None and "form_failures" not in slots


@pytest.mark.parametrize("text,intent,said", [
    # a hold: nothing stored, no failure, the question stays open
    ("aspetta un attimo", "esitazione", ["utter_modulo_attendo"]),
    # a question that starts like a hold is answered
    ("aspetta, ma l'OTP di quante cifre è?", "faq_codice_verifica",
     ["utter_faq_codice_verifica", "utter_riprendiamo"]),
])
def test_holds_wait_and_questions_are_answered(text, intent, said):
    tracker = make_tracker(None, {"support_email": "anna@example.it", "support_reason": text,
                                  "requested_slot": "support_reason"},
                           text=text, intent=intent, active_loop="support_form")
    tracker.events.append({"event": "slot", "name": "support_reason", "value": text})
    messages, events = run(ValidateSupportForm(), tracker, DOMAIN)
    assert responses(messages) == said
    slots = slots_of(events)
    assert slots["support_reason"] is None and "form_failures" not in slots


@pytest.mark.parametrize("text", ["mmm no lascia stare, pago dal sito", "ci penso e ti riscrivo",
                                  "no niente, lascio perdere"])
def test_stopping_for_now_wins_over_the_hold_it_starts_with(text):
    tracker = make_tracker(None, {"support_reason": "navigazione", "support_email": text,
                                  "requested_slot": "support_email"},
                           text=text, intent="esitazione", active_loop="support_form")
    tracker.events.append({"event": "slot", "name": "support_email", "value": text})
    messages, events = run(ValidateSupportForm(), tracker, DOMAIN)
    assert responses(messages) == ["utter_modulo_sospeso"]
    slots = slots_of(events)
    assert slots["form_aborted"] is True and "navigazione" in slots["modulo_sospeso"]
