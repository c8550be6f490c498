"""«annulla» keeps a form's validated answers aside; «riprendi» puts them back, for the
right form, and only where the conversation may still see the customer's data."""

from __future__ import annotations

import json

import pytest
from rasa_sdk import Tracker

from actions.form_cancel import wants_to_cancel
from actions.form_resume import ActionAnnullaModulo, ActionRiprendiModulo, last_form
from actions.step_up import ABORTED
from actions.support import ValidateSupportForm
from tests.actions.helpers import customer_metadata, make_tracker, responses, run, slots_of


def cancel(slots: dict, events: list | None = None) -> dict:
    tracker = make_tracker(None, slots, text="lascia stare", intent="annulla")
    tracker.events.extend(events or [])
    messages, result = run(ActionAnnullaModulo(), tracker)
    return {"responses": responses(messages), "slots": slots_of(result)}


def resume(saved: str | None, metadata: dict | None = None) -> dict:
    tracker = make_tracker(metadata, {"modulo_sospeso": saved}, text="riprendi",
                           intent="riprendi_modulo")
    messages, result = run(ActionRiprendiModulo(), tracker)
    return {"responses": responses(messages), "slots": slots_of(result)}


def test_cancelling_with_nothing_answered_keeps_nothing():
    outcome = cancel({"support_email": None})
    assert outcome["responses"] == ["utter_modulo_annullato"]
    assert outcome["slots"]["modulo_sospeso"] is None


def test_support_answers_survive_a_cancel_and_come_back():
    answers = {"support_email": "anna@example.it", "support_reason": "navigazione",
               "support_confirm": "si"}
    saved = cancel(answers)["slots"]["modulo_sospeso"]
    assert json.loads(saved) == {
        "form": "support_form",
        # the confirmation is asked again: it is not an answer worth keeping
        "slots": {"support_email": "anna@example.it", "support_reason": "navigazione"},
    }
    back = resume(saved)
    assert back["responses"] == ["utter_riprendo_modulo"]
    assert back["slots"]["support_email"] == "anna@example.it"
    assert back["slots"]["support_reason"] == "navigazione"
    assert back["slots"]["modulo_da_riprendere"] == "support_form"
    assert back["slots"]["modulo_sospeso"] is None


def test_the_form_that_was_active_decides_over_leftover_slots():
    events = [{"event": "active_loop", "name": "payment_form"},
              {"event": "active_loop", "name": None}]
    tracker = Tracker("u1", {"support_email": "x@example.it"}, {}, events, False, None, {},
                      "action_listen")
    assert last_form(tracker) == "payment_form"


def test_aborted_answers_and_codes_are_not_kept():
    events = [{"event": "active_loop", "name": "payment_form"}]
    saved = cancel({"policy_number": "AL10000001", "pay_installments": ABORTED,
                    "pay_otp": "123456"}, events)["slots"]["modulo_sospeso"]
    assert json.loads(saved)["slots"] == {"policy_number": "AL10000001"}


def test_nothing_to_resume_says_so():
    back = resume(None)
    assert back["responses"] == ["utter_nulla_da_riprendere"]
    assert back["slots"] == {"modulo_da_riprendere": "nessuno"}


def test_a_tampered_saved_state_restores_only_the_forms_own_slots():
    saved = json.dumps({"form": "support_form",
                        "slots": {"support_email": "a@example.it", "identity_step_up": "x"}})
    back = resume(saved)
    assert "identity_step_up" not in back["slots"]
    assert back["slots"]["support_email"] == "a@example.it"
    assert resume("not json")["slots"] == {"modulo_da_riprendere": "nessuno"}


def test_a_payment_resumes_only_for_a_verified_customer(actions_on_fresh_backend):
    saved = json.dumps({"form": "payment_form", "slots": {"policy_number": "AL10000001"}})
    anonymous = resume(saved)
    assert anonymous["responses"] == ["utter_identificazione_necessaria"]
    assert "policy_number" not in anonymous["slots"]
    # A validly signed token for the other brand is no identity for this customer's data.
    wrong_brand = resume(saved, customer_metadata(1, "cavita"))
    assert wrong_brand["responses"] == ["utter_identificazione_necessaria"]
    assert "policy_number" not in wrong_brand["slots"]

    verified = resume(saved, customer_metadata(1))
    assert verified["responses"] == ["utter_riprendo_modulo"]
    assert verified["slots"]["policy_number"] == "AL10000001"
    assert verified["slots"]["pay_start"] is True
    assert verified["slots"]["modulo_da_riprendere"] == "payment_form"


# --- cancelling from inside a form: text and intent must agree -------------------------

@pytest.mark.parametrize("text, intent, expected", [
    ("annulla", "annulla", True),
    ("lascia stare", "faq_spam", True),  # a bare cancel phrase, whatever NLU guessed
    ("no guarda, lascia perdere tutto", "annulla", True),
    ("navigazione", "annulla", False),  # one-word answers are not cancels
    ("anna@example.it", "annulla", False),
    ("AL10000001", "annulla", False),
    ("basta che mi rispondiate entro domani per favore grazie mille davvero", "annulla",
     False),  # a long answer that happens to hold a cancel word
    ("non riesco piu a entrare, mi dice di lasciare stare", "faq_accesso", False),
])
def test_what_counts_as_a_cancel(text, intent, expected):
    assert wants_to_cancel(make_tracker(None, {}, text=text, intent=intent)) is expected


def support_turn(text: str, intent: str, slots: dict) -> tuple[list, dict]:
    asked = slots["requested_slot"]
    tracker = make_tracker(None, {**slots, asked: text}, text=text, intent=intent,
                           active_loop="support_form")
    tracker.events.append({"event": "slot", "name": asked, "value": text})
    messages, events = run(ValidateSupportForm(), tracker, {"forms": {"support_form": {
        "required_slots": ["support_email", "support_reason", "support_text",
                           "support_confirm"]}}})
    return responses(messages), slots_of(events)


def test_a_one_word_answer_classified_as_annulla_still_fills_the_form():
    said, slots = support_turn("navigazione", "annulla",
                               {"support_email": "anna@example.it",
                                "requested_slot": "support_reason"})
    assert said == []
    assert slots["support_reason"] == "navigazione"
    assert "modulo_sospeso" not in slots


def test_cancel_inside_the_form_ends_it_and_keeps_earlier_answers():
    said, slots = support_turn("annulla", "annulla",
                               {"support_email": "anna@example.it",
                                "requested_slot": "support_reason"})
    assert said == ["utter_modulo_sospeso"]
    assert slots["requested_slot"] is None and slots["form_aborted"] is True
    assert slots["support_email"] is None
    # the text being judged ("annulla") is not kept as the reason
    assert json.loads(slots["modulo_sospeso"])["slots"] == {"support_email": "anna@example.it"}
