"""An expired code, for real: the backend stub runs with a 2 s validity
(BACKEND_OTP_TTL_SECONDS) and the actions meet the expiry over HTTP, in the WhatsApp
step-up and in the payment confirmation."""

from __future__ import annotations

import time

import pytest

from actions.otp import PAYMENT_CHALLENGE
from actions.payments import ActionAskPayOtp, ValidatePaymentForm
from actions.policies import ActionMostraPolizze
from actions.step_up import VERIFIED, ValidateStepUpForm
from tests.actions.conftest import OTP_TTL_SECONDS_FOR_EXPIRY_TESTS
from tests.actions.helpers import (
    customer_metadata,
    make_tracker,
    render,
    responses,
    run,
    slots_of,
    whatsapp_metadata,
)


@pytest.fixture(autouse=True)
def backend(actions_on_short_otp_backend):
    return actions_on_short_otp_backend


def wait_for_expiry() -> None:
    time.sleep(OTP_TTL_SECONDS_FOR_EXPIRY_TESTS + 1)


def test_step_up_code_typed_too_late_is_explained_and_grants_nothing(backend):
    phone = "+393401231234"  # customer 7, CA Vita
    metadata = whatsapp_metadata(phone, "cavita")
    _, events = run(ActionMostraPolizze(), make_tracker(metadata))
    slots = slots_of(events)
    code = backend.sent_codes(phone)[-1]
    wait_for_expiry()
    tracker = make_tracker(metadata, {**slots, "requested_slot": "step_up_code"}, text=code,
                           active_loop="step_up_form")
    messages, events = run(ValidateStepUpForm(), tracker,
                           {"forms": {"step_up_form": {"required_slots": ["step_up_code"]}}})
    result = slots_of(events)
    assert responses(messages) == ["utter_codice_scaduto"]
    assert "nuovo codice" in render(messages[0], "cavita")
    assert result["step_up_code"] != VERIFIED
    assert result["form_aborted"] is True


def test_payment_code_typed_too_late_waits_for_a_new_one(backend):
    metadata = customer_metadata(1)
    slots = {"policy_number": "AL10000001", "pay_installments": "1", "pay_method": "card:visa"}
    _, events = run(ActionAskPayOtp(), make_tracker(metadata, slots))
    slots[PAYMENT_CHALLENGE] = slots_of(events)[PAYMENT_CHALLENGE]
    code = backend.sent_codes("+393331234567")[-1]
    wait_for_expiry()
    tracker = make_tracker(metadata, {**slots, "requested_slot": "pay_otp"}, text=code,
                           active_loop="payment_form")
    tracker.slots["pay_otp"] = code
    tracker.events.append({"event": "slot", "name": "pay_otp", "value": code})
    messages, events = run(ValidatePaymentForm(), tracker, {"forms": {"payment_form": {
        "required_slots": ["policy_number", "pay_installments", "pay_method", "pay_otp"]}}})
    result = slots_of(events)
    assert responses(messages) == ["utter_codice_scaduto"]
    # the form stays open: the old challenge is dropped so «nuovo codice» sends a fresh one
    assert result["pay_otp"] is None and result[PAYMENT_CHALLENGE] is None
