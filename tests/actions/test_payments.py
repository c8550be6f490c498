"""Assisted payment against the real backend stub: the refusals of the seeds' rules
(SDD customer 3, arrears > 6 months customer 4, skipping an installment customer 1), the
OTP typed in the chat (wrong code, then right) and the payment link."""

from __future__ import annotations

import re

import pytest

from actions.otp import PAYMENT_CHALLENGE
from actions.payments import (
    ActionAskPayInstallments,
    ActionAskPayOtp,
    ActionAvviaPagamento,
    ActionCreaPagamento,
    ValidatePaymentForm,
    choice_in,
)
from actions.step_up import VERIFIED
from tests.actions.conftest import free_port
from tests.actions.helpers import customer_metadata, make_tracker, render, responses, run, slots_of

DOMAIN = {"forms": {"payment_form": {"required_slots": [
    "policy_number", "pay_installments", "pay_method", "pay_otp"]}}}


@pytest.fixture(autouse=True)
def backend(actions_on_fresh_backend):
    """This module's own backend stub: OTP cooldowns of other modules do not leak in."""
    return actions_on_fresh_backend


def answer(slot, text, slots, metadata, intent="nlu_fallback"):
    tracker = make_tracker(
        metadata, {**slots, "requested_slot": slot}, text=text, intent=intent,
        active_loop="payment_form",
    )
    if slot in ("pay_installments", "pay_method"):  # from_text slots: Rasa sets them
        tracker.slots[slot] = text
        tracker.events.append({"event": "slot", "name": slot, "value": text})
    messages, events = run(ValidatePaymentForm(), tracker, DOMAIN)
    return messages, slots_of(events)


def test_choice_parser():
    assert choice_in("1", 3) == [1]
    assert choice_in("la prima e la seconda", 3) == [1, 2]
    assert choice_in("tutte", 2) == [1, 2]
    assert choice_in("7", 3) is None
    assert choice_in("boh", 3) is None


def test_start_needs_a_verified_customer():
    messages, events = run(ActionAvviaPagamento(), make_tracker({"brand": "alleanza"}))
    assert responses(messages) == ["utter_identificazione_necessaria"]
    messages, events = run(
        ActionAvviaPagamento(),
        make_tracker(customer_metadata(1), text="voglio pagare la rata della AL10000001"),
    )
    slots = slots_of(events)
    assert (slots["pay_start"], slots["policy_number"]) == (True, "AL10000001")


def test_sdd_policy_is_refused_with_the_reason():
    messages, slots = answer("policy_number", "AL10000004", {}, customer_metadata(3))
    assert responses(messages) == ["utter_pagamento_sdd_not_payable"]
    assert "SDD" in render(messages[0]) and "non si possono pagare online" in render(messages[0])
    assert slots["form_aborted"] is True
    assert slots["requested_slot"] is None


def test_arrears_older_than_six_months_are_refused():
    messages, slots = answer("policy_number", "AL10000005", {}, customer_metadata(4))
    assert responses(messages) == ["utter_pagamento_overdue_more_than_6_months"]
    text = render(messages[0])
    assert "più di 6 mesi" in text and re.search(r"\d{2}/\d{2}/\d{4}", text)


def test_another_customers_policy_is_refused_politely():
    messages, slots = answer("policy_number", "AL10000001", {}, customer_metadata(3))
    assert responses(messages) == ["utter_polizza_non_tua"]
    assert slots["policy_number"] is None


def test_skipping_an_installment_is_explained_then_oldest_first_works(backend):
    metadata = customer_metadata(1)
    slots = {"policy_number": "AL10000001"}
    _, result = answer("policy_number", "AL10000001", {}, metadata)
    assert result["policy_number"] == "AL10000001"

    messages, _ = run(ActionAskPayInstallments(), make_tracker(metadata, slots))
    listing = render(messages[0])
    assert "1. scadenza" in listing and "2. scadenza" in listing

    messages, result = answer("pay_installments", "2", slots, metadata)
    assert responses(messages) == [
        "utter_pagamento_installment_skipped", "utter_rate_scegli_ancora"]
    assert re.search(r"anche la rata del \d{2}/\d{2}/\d{4}", render(messages[0]))
    assert result["pay_installments"] is None

    messages, result = answer("pay_installments", "1", slots, metadata)
    assert messages == []
    slots["pay_installments"] = result["pay_installments"]
    _, result = answer("pay_method", "con la visa", slots, metadata)
    slots["pay_method"] = result["pay_method"]
    assert slots["pay_method"] == "card:visa"

    # The code goes to the dispositive mobile; a wrong one leaves attempts, the right one
    # gives the link.
    messages, events = run(ActionAskPayOtp(), make_tracker(metadata, slots))
    assert responses(messages) == ["utter_pagamento_codice_inviato"]
    slots[PAYMENT_CHALLENGE] = slots_of(events)[PAYMENT_CHALLENGE]
    code = backend.sent_codes("+393331234567")[-1]
    wrong = str((int(code) + 1) % 1000000).zfill(6)
    messages, result = answer("pay_otp", wrong, slots, metadata)
    assert responses(messages) == ["utter_codice_errato_tentativi"]
    assert "Tentativi rimasti: 4" in render(messages[0])
    # A re-ask reuses the same code (no new SMS).
    messages, _ = run(ActionAskPayOtp(), make_tracker(metadata, slots))
    assert responses(messages) == ["utter_ask_pay_otp_ancora"]
    messages, result = answer("pay_otp", code, slots, metadata)
    assert result["pay_otp"] == VERIFIED

    messages, events = run(ActionCreaPagamento(), make_tracker(metadata, {**slots, **result}))
    assert responses(messages) == ["utter_pagamento_link"]
    text = render(messages[0])
    assert f"{backend.url}/pay/" in text
    assert re.search(r"AL-PG-\d{4}-\d{6}", text) and "€" in text
    assert slots_of(events)["pay_installments"] is None


def test_appointment_with_the_consultant_instead_of_a_link(backend):
    # customer 2 (protection product due within 30 days): customer 1's codes are in cooldown
    metadata = customer_metadata(2)
    slots = {"policy_number": "AL10000002"}
    _, result = answer("pay_installments", "la prima", slots, metadata)
    slots["pay_installments"] = result["pay_installments"]
    _, result = answer("pay_method", "preferisco un appuntamento col consulente", slots, metadata)
    assert result["pay_method"] == "agency"
    slots["pay_method"] = "agency"
    _, events = run(ActionAskPayOtp(), make_tracker(metadata, slots))
    slots[PAYMENT_CHALLENGE] = slots_of(events)[PAYMENT_CHALLENGE]
    _, result = answer("pay_otp", backend.sent_codes("+393471112233")[-1], slots, metadata)
    assert result["pay_otp"] == VERIFIED

    messages, _ = run(ActionCreaPagamento(), make_tracker(metadata, {**slots, **result}))
    assert responses(messages) == ["utter_pagamento_appuntamento"]
    text = render(messages[0])
    assert "Consulente" in text and "/pay/" not in text
    assert re.search(r"AL-PG-\d{4}-\d{6}", text) and "€" in text


def test_link_needs_a_verified_code():
    slots = {"policy_number": "AL10000001", "pay_installments": "1", "pay_method": "card",
             "pay_otp": "123456"}
    messages, _ = run(ActionCreaPagamento(), make_tracker(customer_metadata(1), slots))
    assert messages == []


def test_backend_down_while_choosing_the_policy(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
    messages, slots = answer("policy_number", "AL10000001", {}, customer_metadata(1))
    assert responses(messages) == ["utter_backend_non_disponibile"]
    assert slots["form_aborted"] is True
