"""Guard, policies, dispositive contact, OTP resend and WhatsApp step-up, against the real
backend stub (tests/actions/conftest.py `backend`). Customers: backend_stub/README.md."""

from __future__ import annotations

import re

import pytest

from actions.backend_client import BackendRefused
from actions.contacts import ActionMostraRecapitoDispositivo
from actions.otp import ActionReinviaCodice
from actions.policies import ActionMostraPolizze
from actions.step_up import VERIFIED, ActionStepUpDone, ValidateStepUpForm, explain_verify_refusal
from identity import STEP_UP_SLOT
from tests.actions.conftest import free_port
from tests.actions.helpers import (
    customer_metadata,
    make_tracker,
    render,
    responses,
    run,
    slots_of,
    whatsapp_metadata,
)

PERSONAL = re.compile(r"AL\d{8}|CV\d{8}|\*\*\*|@")


@pytest.fixture(autouse=True)
def backend(actions_on_fresh_backend):
    """This module's own backend stub: OTP cooldowns of other modules do not leak in."""
    return actions_on_fresh_backend


@pytest.fixture
def backend_down(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")


# --- anonymous and bad tokens -------------------------------------------------------


@pytest.mark.parametrize("metadata", [
    None,
    {"brand": "alleanza"},
    {"customer_id": "1", "brand": "alleanza"},  # client-sent claims grant nothing
    {"identity_token": "not-a-jwt"},
])
@pytest.mark.parametrize("action", [ActionMostraPolizze(), ActionMostraRecapitoDispositivo()])
def test_unverified_user_gets_how_to_identify_and_no_data(metadata, action):
    messages, events = run(action, make_tracker(metadata, text="le mie polizze"))
    assert responses(messages) == ["utter_identificazione_necessaria"]
    text = render(messages[0])
    assert "Area Clienti" in text and "WhatsApp" in text
    assert not PERSONAL.search(text)
    assert slots_of(events) == {"step_up_required": False}


def test_typed_customer_number_grants_nothing():
    tracker = make_tracker({"brand": "alleanza"}, text="sono il cliente 1, AL10000001")
    messages, _ = run(ActionMostraPolizze(), tracker)
    assert responses(messages) == ["utter_identificazione_necessaria"]


# --- policies -----------------------------------------------------------------------


def test_customer_sees_own_active_policies():
    messages, _ = run(ActionMostraPolizze(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_polizze_attive"]
    text = render(messages[0])
    assert "AL10000001" in text
    assert "AL10000002" not in text


def test_archive_follows_the_brand_rule():
    # Alleanza shows every archived policy; CA Vita only those ended within 24 months.
    messages, _ = run(ActionMostraPolizze(), make_tracker(customer_metadata(2)))
    assert responses(messages) == ["utter_polizze_attive", "utter_polizze_archiviate"]
    assert "AL10000003" in render(messages[1])
    messages, _ = run(ActionMostraPolizze(), make_tracker(customer_metadata(7, "cavita")))
    archive = render(messages[-1], "cavita")
    assert "24 mesi" in archive
    assert "CV20000002" in archive or "CV20000003" in archive or "CV20000004" in archive
    assert archive.count("CV2000000") == 1


def test_brand_of_a_verified_customer_comes_from_the_token():
    # A CA Vita token with alleanza metadata still reads customer 7's CA Vita policies.
    metadata = {**customer_metadata(7, "cavita"), "brand": "alleanza"}
    messages, _ = run(ActionMostraPolizze(), make_tracker(metadata))
    assert "CV2000000" in render(messages[0], "cavita")


def test_policies_backend_down_is_an_italian_message_with_the_support_form(backend_down):
    messages, _ = run(ActionMostraPolizze(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_backend_non_disponibile"]
    assert "non riesco a raggiungere" in render(messages[0])
    from tests.actions.helpers import _RESPONSES

    buttons = _RESPONSES["utter_backend_non_disponibile"][0]["buttons"]
    assert buttons[0]["payload"] == "/apri_richiesta_supporto"


# --- dispositive contact --------------------------------------------------------------


def test_dispositive_contact_is_masked_and_followed_by_how_to_change_it():
    messages, _ = run(ActionMostraRecapitoDispositivo(), make_tracker(customer_metadata(1)))
    assert responses(messages) == [
        "utter_recapito_dispositivo_attuale",
        "utter_faq_recapito_dispositivo_modifica",
    ]
    text = render(messages[0])
    assert "4567" in text and "***" in text and "3331234567" not in text


def test_unconfirmed_and_missing_dispositive_contact():
    messages, _ = run(ActionMostraRecapitoDispositivo(), make_tracker(customer_metadata(10)))
    assert responses(messages)[0] == "utter_recapito_dispositivo_non_confermato"
    messages, _ = run(
        ActionMostraRecapitoDispositivo(), make_tracker(customer_metadata(6, "cavita"))
    )
    assert responses(messages)[0] == "utter_recapito_dispositivo_assente"


def test_contacts_backend_down(backend_down):
    messages, _ = run(ActionMostraRecapitoDispositivo(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_backend_non_disponibile"]


# --- OTP resend -------------------------------------------------------------------------


def test_resend_then_cooldown_says_when_to_ask_again(backend):
    before = len(backend.sent_codes("+393331234567"))
    messages, _ = run(ActionReinviaCodice(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_codice_reinviato"]
    assert "6 cifre" in render(messages[0]) and "4567" in render(messages[0])
    assert len(backend.sent_codes("+393331234567")) == before + 1

    messages, _ = run(ActionReinviaCodice(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_otp_cooldown"]
    text = render(messages[0])
    seconds = int(re.search(r"tra (\d+) secondi", text).group(1))
    assert 0 < seconds <= 30
    assert len(backend.sent_codes("+393331234567")) == before + 1  # nothing sent


def test_resend_without_a_usable_mobile():
    messages, _ = run(ActionReinviaCodice(), make_tracker(customer_metadata(6, "cavita")))
    assert responses(messages) == ["utter_no_dispositive_mobile"]
    messages, _ = run(ActionReinviaCodice(), make_tracker(customer_metadata(10)))
    assert responses(messages) == ["utter_dispositive_mobile_unconfirmed"]


def test_resend_backend_down(backend_down):
    messages, _ = run(ActionReinviaCodice(), make_tracker(customer_metadata(1)))
    assert responses(messages) == ["utter_backend_non_disponibile"]


def test_anonymous_resend_is_refused():
    messages, _ = run(ActionReinviaCodice(), make_tracker({"brand": "cavita"}))
    assert responses(messages) == ["utter_identificazione_necessaria"]


# --- WhatsApp step-up ---------------------------------------------------------------------


def step_up(phone, brand, action=None):
    """A WhatsApp sender asks for personal data: the guard sends a code."""
    metadata = whatsapp_metadata(phone, brand)
    messages, events = run(action or ActionMostraPolizze(), make_tracker(metadata))
    return metadata, messages, slots_of(events)


def type_code(metadata, slots, text):
    tracker = make_tracker(
        metadata,
        {**slots, "requested_slot": "step_up_code"},
        text=text,
        active_loop="step_up_form",
    )
    messages, events = run(ValidateStepUpForm(), tracker, {"forms": {
        "step_up_form": {"required_slots": ["step_up_code"]}}})
    return messages, slots_of(events)


def test_whatsapp_needs_the_otp_step_up_before_personal_data(backend):
    phone = "+393401231234"  # customer 7, CA Vita
    metadata, messages, slots = step_up(phone, "cavita")
    assert responses(messages) == ["utter_step_up_codice_inviato"]
    assert "5 cifre" in render(messages[0]) and "1234" in render(messages[0])
    assert not re.search(r"CV\d{8}", render(messages[0]))
    assert slots["step_up_required"] is True
    assert slots["step_up_pending_action"] == "action_mostra_polizze"
    assert STEP_UP_SLOT not in slots

    code = backend.sent_codes(phone)[-1]
    wrong = str((int(code) + 1) % 100000).zfill(5)
    messages, result = type_code(metadata, slots, f"il codice e {wrong}")
    assert responses(messages) == ["utter_codice_errato_tentativi"]
    assert "Tentativi rimasti: 4" in render(messages[0])
    assert result["step_up_code"] is None

    messages, result = type_code(metadata, slots, code)
    assert result["step_up_code"] == VERIFIED
    marker = result[STEP_UP_SLOT]
    done_slots = {**slots, **result}
    messages, events = run(ActionStepUpDone(), make_tracker(metadata, done_slots))
    # Verified, then the request that needed it runs at once.
    assert responses(messages)[:2] == ["utter_step_up_riuscito", "utter_polizze_attive"]
    assert "CV2000000" in render(messages[1], "cavita")
    # With the marker the same sender now sees customer 7's policies...
    messages, _ = run(
        ActionMostraPolizze(), make_tracker(metadata, {STEP_UP_SLOT: marker})
    )
    assert "CV2000000" in render(messages[0], "cavita")
    # ...but the marker is bound to the number: another sender cannot reuse it.
    other = whatsapp_metadata("+393391112222", "cavita")
    messages, _ = run(
        ActionMostraRecapitoDispositivo(), make_tracker(other, {STEP_UP_SLOT: marker})
    )
    assert responses(messages) == ["utter_step_up_codice_inviato"]


def test_whatsapp_not_a_code_three_times_gives_up(backend):
    metadata, _, slots = step_up("+393471112233", "alleanza")  # customer 2
    for attempt in range(1, 4):
        messages, result = type_code(metadata, slots, "quello di ieri")
        slots = {**slots, **{k: v for k, v in result.items() if k == "form_failures"}}
        if attempt < 3:
            assert responses(messages) == ["utter_codice_formato"]
            assert "6 cifre" in render(messages[0])
    assert responses(messages) == ["utter_form_troppi_tentativi"]
    assert result["form_aborted"] is True


def test_whatsapp_locked_after_five_wrong_codes_then_explains(backend):
    metadata, _, slots = step_up("+393351234000", "alleanza")  # customer 5's legal rep
    code = backend.sent_codes("+393351234000")[-1]
    wrong = str((int(code) + 1) % 1000000).zfill(6)
    seen = []
    for _ in range(5):
        messages, result = type_code(metadata, slots, wrong)
        seen += responses(messages)
    assert seen[:4] == ["utter_codice_errato_tentativi"] * 4
    assert seen[4] == "utter_codice_bloccato"
    assert result["form_aborted"] is True
    # Even the right code no longer works: the challenge is locked.
    messages, result = type_code(metadata, slots, code)
    assert responses(messages) == ["utter_codice_bloccato"]
    assert "nuovo codice" in render(messages[0])


def test_expired_and_superseded_codes_are_explained():
    # Every refusal code maps to its own message (real expiry over HTTP: test_otp_expiry.py);
    # the refusal object is the client's own type, as BackendClient raises it for HTTP 410.
    from rasa_sdk.executor import CollectingDispatcher

    for code, response in [("otp_expired", "utter_codice_scaduto"),
                           ("otp_superseded", "utter_codice_superato")]:
        dispatcher = CollectingDispatcher()
        result = explain_verify_refusal(dispatcher, BackendRefused(code, "", 410), "x")
        assert responses(dispatcher.messages) == [response]
        assert "nuovo codice" in render(dispatcher.messages[0])
        assert result["form_aborted"] is True


def test_whatsapp_unknown_number_gets_no_code(backend):
    _, messages, slots = step_up("+393209999999", "alleanza")
    assert responses(messages) == ["utter_whatsapp_numero_non_registrato"]
    assert slots["step_up_required"] is False


def test_whatsapp_resend_during_step_up_replaces_the_challenge_after_cooldown(backend):
    metadata, _, slots = step_up("+393205556677", "alleanza")  # customer 3
    messages, events = run(ActionReinviaCodice(), make_tracker(metadata, slots))
    assert responses(messages) == ["utter_otp_cooldown"]  # 30 s have not passed


def test_whatsapp_step_up_backend_down(backend_down):
    _, messages, slots = step_up("+393331234567", "alleanza")
    assert responses(messages) == ["utter_backend_non_disponibile"]
    assert slots["step_up_required"] is False
