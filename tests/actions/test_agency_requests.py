"""Requests to the agency against the real backend stub: ownership of the policy, the
details each kind needs, the backend's refusals explained in Italian."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from actions.agency_requests import (
    ActionAskSrConfirm,
    ActionAvviaRichiestaAgenzia,
    ActionInviaRichiestaAgenzia,
    ValidateServiceRequestForm,
    amount_in,
    date_in,
    iban_in,
    kind_in,
)
from tests.actions.conftest import free_port
from tests.actions.helpers import customer_metadata, make_tracker, render, responses, run, slots_of

IBAN = "IT60X0542811101000000123456"
DOMAIN = {"forms": {"service_request_form": {"required_slots": [
    "sr_kind", "policy_number", "sr_event_date", "sr_description", "sr_iban", "sr_amount",
    "sr_effective_date", "sr_confirm"]}}}


@pytest.fixture(autouse=True)
def backend(actions_on_fresh_backend):
    """This module's own backend stub: OTP cooldowns of other modules do not leak in."""
    return actions_on_fresh_backend


def answer(slot, text, slots, metadata, intent="nlu_fallback"):
    tracker = make_tracker(
        metadata, {**slots, "requested_slot": slot}, text=text, intent=intent,
        active_loop="service_request_form",
    )
    if slot.startswith("sr_") and slot != "sr_kind":  # from_text slots: Rasa sets them
        tracker.slots[slot] = text
        tracker.events.append({"event": "slot", "name": slot, "value": text})
    messages, events = run(ValidateServiceRequestForm(), tracker, DOMAIN)
    return messages, slots_of(events)


@pytest.mark.parametrize("text,kind", [
    ("voglio aprire un sinistro sulla polizza AL10000001", "claim"),
    ("invia la richiesta di riscatto parziale", "surrender_partial"),
    ("riscatto totale", "surrender_total"),
    ("invia la richiesta di riscatto", None),  # total or partial: the form asks
    ("versamento aggiuntivo di 500 euro", "extra_payment"),
    ("sospendi la copertura", "suspension"),
    ("riattivazione", "reactivation"),
    ("vorrei riscattare tutta la polizza CV20000005", "surrender_total"),
    ("riscatto integrale della polizza", "surrender_total"),
    ("posso riscattarne solo una parte?", "surrender_partial"),
    ("il riscatto non tutto, solo una parte", "surrender_partial"),
    ("riscatto di tutta la somma, non parziale", "surrender_total"),
])
def test_kind_from_text(text, kind):
    assert kind_in(text) == kind


def test_value_parsers():
    assert amount_in("1.500,50 €") == "1500.50"
    assert amount_in("vorrei versare 300 euro") == "300.00"
    assert amount_in("zero") is None
    assert iban_in("it60 x054 2811 1010 0000 0123 456") == IBAN
    assert iban_in("IT61X0542811101000000123456") is None  # check digits wrong
    assert date_in("12/03/2025") == date(2025, 3, 12)
    assert date_in("31/02/2025") is None


def test_start_reads_kind_and_policy_and_opens_the_form():
    tracker = make_tracker(customer_metadata(1), text="apri un sinistro sulla polizza al10000001")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    slots = slots_of(events)
    assert messages == []
    assert (slots["sr_kind"], slots["policy_number"], slots["sr_start"]) == (
        "claim", "AL10000001", True)


def test_an_iban_in_the_opening_message_is_not_asked_again():
    tracker = make_tracker(customer_metadata(1), text=(
        f"voglio il riscatto totale della AL10000001, iban {IBAN}"))
    _, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    slots = slots_of(events)
    assert (slots["sr_kind"], slots["sr_iban"], slots["sr_start"]) == (
        "surrender_total", IBAN, True)
    claim = make_tracker(customer_metadata(1), text=f"sinistro sulla AL10000001 iban {IBAN}")
    assert slots_of(run(ActionAvviaRichiestaAgenzia(), claim)[1]).get("sr_iban") is None


def test_anonymous_user_cannot_start_a_request():
    tracker = make_tracker({"brand": "alleanza"}, text="/invia_richiesta_agenzia")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    assert responses(messages) == ["utter_identificazione_necessaria"]
    assert slots_of(events).get("sr_start") is False


def test_anonymous_user_asking_in_words_gets_how_it_works():
    tracker = make_tracker({"brand": "alleanza"}, text="voglio il riscatto totale")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    assert responses(messages) == ["utter_faq_riscatto"]
    assert slots_of(events).get("sr_start") is False


def test_own_policy_is_accepted():
    _, slots = answer("policy_number", "la AL10000001", {"sr_kind": "claim"}, customer_metadata(1))
    assert slots["policy_number"] == "AL10000001"
    assert slots["requested_slot"] == "sr_event_date"


def test_another_customers_policy_is_politely_refused():
    # AL10000004 belongs to customer 3; customer 1 gets the same answer as for a made-up one.
    messages, slots = answer(
        "policy_number", "AL10000004", {"sr_kind": "claim"}, customer_metadata(1))
    assert responses(messages) == ["utter_polizza_non_tua"]
    text = render(messages[0])
    assert "AL10000004 non risulta tra le tue" in text
    assert slots["policy_number"] is None
    messages, _ = answer("policy_number", "AL19999999", {"sr_kind": "claim"}, customer_metadata(1))
    assert render(messages[0]) == text.replace("AL10000004", "AL19999999")


def test_not_a_policy_number_three_times_gives_up():
    slots = {"sr_kind": "claim", "form_failures": 0.0}
    for _ in range(3):
        messages, result = answer("policy_number", "quella auto", slots, customer_metadata(1))
        slots["form_failures"] = result.get("form_failures", 0.0)
    assert responses(messages) == ["utter_form_troppi_tentativi"]
    assert result["requested_slot"] is None


def test_each_kind_asks_only_what_it_needs():
    _, slots = answer("policy_number", "AL10000001", {"sr_kind": "surrender_partial"},
                      customer_metadata(1))
    assert slots["requested_slot"] == "sr_iban"
    _, slots = answer("sr_iban", IBAN, {"sr_kind": "surrender_partial",
                                        "policy_number": "AL10000001"}, customer_metadata(1))
    assert slots["requested_slot"] == "sr_amount"


def test_future_event_date_is_refused_with_a_hint():
    tomorrow = (date.today() + timedelta(days=1)).strftime("%d/%m/%Y")
    messages, slots = answer("sr_event_date", tomorrow, {"sr_kind": "claim",
                             "policy_number": "AL10000001"}, customer_metadata(1))
    assert responses(messages) == ["utter_data_evento_non_valida"]


def submit(slots, metadata):
    return run(ActionInviaRichiestaAgenzia(), make_tracker(metadata, {**slots, "sr_confirm": "si"}))


def test_claim_reaches_the_agency():
    slots = {"sr_kind": "claim", "policy_number": "AL10000001",
             "sr_event_date": date.today().isoformat(),
             "sr_description": "Grandine sul tetto, danni alle tegole."}
    messages, _ = run(ActionAskSrConfirm(), make_tracker(customer_metadata(1), slots))
    assert "denuncia di sinistro" in render(messages[0])
    messages, events = submit(slots, customer_metadata(1))
    assert responses(messages) == ["utter_sr_inviata"]
    text = render(messages[0])
    assert re.search(r"AL-SR-\d{4}-\d{6}", text) and "Milano" in text
    assert slots_of(events)["sr_kind"] is None


def test_surrender_on_a_danni_policy_is_explained():
    # customer 7: CV20000002 is a danni policy (suspension/reactivation only)
    slots = {"sr_kind": "surrender_total", "policy_number": "CV20000002", "sr_iban": IBAN}
    messages, _ = submit(slots, customer_metadata(7, "cavita"))
    assert responses(messages) == ["utter_sr_non_prevista"]
    assert "richiesta di riscatto totale non è prevista" in render(messages[0], "cavita")
    # CV20000004 ended 30 months ago: hidden by CA Vita's 24-month window, so not "theirs".
    messages, _ = submit({**slots, "policy_number": "CV20000004"}, customer_metadata(7, "cavita"))
    assert responses(messages) == ["utter_sr_policy_not_owned"]


def test_token_is_rechecked_at_submit():
    slots = {"sr_kind": "extra_payment", "policy_number": "AL10000001", "sr_amount": "100.00"}
    messages, _ = submit(slots, {"brand": "alleanza"})
    assert responses(messages) == ["utter_identificazione_necessaria"]


def test_backend_down_at_submit(monkeypatch):
    monkeypatch.setenv("BACKEND_URL", f"http://127.0.0.1:{free_port()}")
    slots = {"sr_kind": "extra_payment", "policy_number": "AL10000001", "sr_amount": "100.00"}
    messages, _ = submit(slots, customer_metadata(1))
    assert responses(messages) == ["utter_backend_non_disponibile"]


def test_a_request_named_in_words_first_gets_how_it_works_and_the_button():
    tracker = make_tracker(customer_metadata(1), {},
                           text="posso fare un versamento aggiuntivo sulla AL10000001?",
                           intent="invia_richiesta_agenzia")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    assert responses(messages) == ["utter_faq_versamento_aggiuntivo"]
    slots = slots_of(events)
    assert slots["sr_start"] is False and slots["policy_number"] == "AL10000001"


def test_the_button_or_an_explicit_send_opens_the_form():
    for text in ('/invia_richiesta_agenzia{"sr_kind":"claim"}',
                 "invia alla mia agenzia la denuncia di sinistro"):
        tracker = make_tracker(customer_metadata(1), {}, text=text,
                               intent="invia_richiesta_agenzia")
        messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
        assert slots_of(events)["sr_start"] is True, text


@pytest.mark.parametrize("kind,number,refusal", [
    ("surrender_total", "CV20000002", "utter_sr_non_prevista"),  # danni policy
    ("extra_payment", "AL10000007", "utter_sr_extra_payment_not_allowed"),  # danni policy
    ("suspension", "AL10000001", "utter_sr_non_prevista"),        # vita policy
])
def test_eligibility_is_checked_before_any_detail_is_asked(kind, number, refusal):
    customer = {"CV20000002": 7, "AL10000007": 10, "AL10000001": 1}[number]
    brand = "cavita" if number.startswith("CV") else "alleanza"
    messages, slots = answer("policy_number", number, {"sr_kind": kind},
                             customer_metadata(customer, brand))
    assert responses(messages) == [refusal]
    assert slots["form_aborted"] is True and slots["requested_slot"] is None


def test_an_eligible_policy_goes_on_to_the_details():
    messages, slots = answer("policy_number", "AL10000001", {"sr_kind": "surrender_total"},
                             customer_metadata(1))
    assert responses(messages) == [] and slots["policy_number"] == "AL10000001"
    assert slots["requested_slot"] == "sr_iban"


def test_changing_the_kind_keeps_the_shared_iban_and_drops_the_amount():
    filled = {"sr_kind": "surrender_partial", "policy_number": "AL10000001", "sr_iban": IBAN,
              "sr_amount": None}
    messages, slots = answer("sr_amount", "no scusa, voglio il riscatto totale non parziale",
                             filled, customer_metadata(1))
    assert slots["sr_kind"] == "surrender_total" and slots.get("sr_iban", IBAN) == IBAN
    assert slots["requested_slot"] == "sr_confirm"


def test_a_customer_asking_for_the_request_itself_gets_the_form_at_once():
    for text in ("vorrei il riscatto parziale della AL10000001",
                 "devo fare un versamento aggiuntivo di 500 euro sulla AL10000001"):
        tracker = make_tracker(customer_metadata(1), {}, text=text,
                               intent="invia_richiesta_agenzia")
        messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
        assert slots_of(events)["sr_start"] is True, text
        assert "utter_faq_riscatto" not in responses(messages)


def test_a_request_in_words_without_a_policy_first_gets_how_it_works():
    tracker = make_tracker(customer_metadata(1), {}, text="devo fare la denuncia di un sinistro",
                           intent="invia_richiesta_agenzia")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    assert responses(messages) == ["utter_faq_sinistro"]
    assert slots_of(events)["sr_start"] is False


def test_policy_numbers_are_read_as_people_write_them():
    from actions.agency_requests import policy_in

    for text in ("CV20000002", "la cv 2000 0002", "AL-1000-0001", "al 10000001", "CV2000.0002"):
        assert policy_in(text) in ("CV20000002", "AL10000001"), text
    assert policy_in("CV 2000 00021") is None
    assert policy_in("telefono 3401231234") is None


def test_a_question_on_a_policy_that_does_not_allow_the_request_gets_the_refusal():
    tracker = make_tracker(customer_metadata(7, "cavita"), {"brand": "cavita"},
                           text="posso fare un versamento aggiuntivo sulla CV20000002?",
                           intent="invia_richiesta_agenzia")
    messages, events = run(ActionAvviaRichiestaAgenzia(), tracker)
    assert "utter_faq_versamento_aggiuntivo" not in responses(messages)
    assert slots_of(events)["sr_start"] is False
    assert any("versament" in render(m, "cavita").lower() for m in messages)


def test_the_request_just_explained_is_the_one_sent():
    from actions.agency_requests import kind_just_explained

    def bot(name):
        return {"event": "bot", "metadata": {"utter_action": name}}

    user = {"event": "user"}
    assert kind_just_explained(
        [user, bot("utter_faq_versamento_aggiuntivo"), user]) == "extra_payment"
    assert kind_just_explained([user, bot("utter_faq_sinistro"), user]) == "claim"
    assert kind_just_explained([user, bot("utter_faq_riscatto"), user]) is None
    # an older answer is not what «mandala tu» points at
    assert kind_just_explained(
        [user, bot("utter_faq_sinistro"), user, bot("utter_saluto"), user]) is None
