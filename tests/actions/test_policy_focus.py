"""Which policy and which installment the customer means (actions/policy_focus.py,
actions/installment_choice.py); the picker against the real backend stub."""

from __future__ import annotations

from datetime import date

import pytest
from rasa_sdk import Tracker

from actions.installment_choice import choice_in, months_named, names_installments
from actions.policy_focus import (
    FOCUS_SLOT,
    ActionAskPolicyNumber,
    policy_answer,
    policy_buttons,
    policy_by_words,
    policy_in,
    refers_to_focus,
)
from tests.actions.helpers import customer_metadata, make_tracker, responses, run

POLICIES = [
    {"number": "AL10000002", "product_name": "Alleanza Protezione Famiglia"},
    {"number": "AL10000009", "product_name": "Alleanza Casa"},
    {"number": "AL10000003", "product_name": "Alleanza Casa Old", "archived": True},
]


@pytest.mark.parametrize("text,same", [
    ("la stessa", True), ("sempre quella", True), ("quella di prima", True), ("sì", True),
    ("si la stessa polizza", True), ("questa", True), ("Proprio quella!", True),
    ("un'altra", False), ("no", False), ("quella della casa", False), ("", False),
    ("la stessa cosa di ieri non funziona", False),
])
def test_refers_to_focus(text, same):
    assert refers_to_focus(text) is same


def test_policy_numbers_are_read_as_people_write_them():
    assert policy_in("la cv 2000 0002 per favore") == "CV20000002"
    assert policy_in("AL-1000-0001") == "AL10000001"
    assert policy_in("la mia polizza") is None


def test_buttons_list_active_policies_with_the_focus_first():
    buttons = policy_buttons(POLICIES, focus="AL10000009")
    assert [b["payload"] for b in buttons] == ["AL10000009", "AL10000002"]
    assert buttons[0]["title"] == "AL10000009 · Alleanza Casa"


@pytest.mark.parametrize("text,expected", [
    ("quella della casa", "AL10000009"), ("la protezione famiglia", "AL10000002"),
    ("alleanza", None),  # both titles: not a choice
    ("la macchina", None),
])
def test_a_shown_policy_is_named_by_its_product(text, expected):
    assert policy_by_words(text, policy_buttons(POLICIES, None)) == expected


def _asked_tracker(text: str, focus: str | None, buttons: list[dict]) -> Tracker:
    # as the action server sees it: the question, the customer's answer, then the form's
    # own events of this turn
    events = [
        {"event": "user", "text": "voglio pagare una rata"},
        {"event": "bot", "text": "Per quale polizza?", "data": {"buttons": buttons}},
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text},
        {"event": "slot", "name": "requested_slot", "value": "policy_number"},
    ]
    latest = {"text": text, "intent": {"name": "x", "confidence": 0.9}, "entities": []}
    return Tracker("u1", {FOCUS_SLOT: focus}, latest, events, False, None,
                   {"name": "payment_form"}, "action_listen")


def test_the_answer_resolves_against_the_focus_and_the_shown_buttons():
    buttons = policy_buttons(POLICIES, "AL10000002")
    assert policy_answer(_asked_tracker("la stessa", "AL10000002", buttons)) == "AL10000002"
    assert policy_answer(_asked_tracker("quella della casa", None, buttons)) == "AL10000009"
    assert policy_answer(_asked_tracker("AL10000001", None, buttons)) == "AL10000001"
    assert policy_answer(_asked_tracker("la stessa", None, buttons)) is None
    assert policy_answer(_asked_tracker("boh", "AL10000002", buttons)) is None


def test_buttons_of_an_older_turn_do_not_count():
    buttons = policy_buttons(POLICIES, None)
    tracker = _asked_tracker("quella della casa", None, buttons)
    tracker.events.insert(3, {"event": "user", "text": "aspetta"})  # answered already
    assert policy_answer(tracker) is None


# --- installments ---------------------------------------------------------------------
TODAY = date(2026, 12, 7)
DUES = ["2026-09-28", "2026-10-28", "2026-11-27", "2026-12-27", "2027-01-26"]


@pytest.mark.parametrize("text,expected", [
    ("1", [1]), ("la prima e la seconda", [1, 2]), ("tutte", [1, 2, 3, 4, 5]),
    ("l'ultima", [5]), ("quella di ottobre", [2]), ("la rata di questo mese", [4]),
    ("quella del mese scorso", [3]), ("quella di tre mesi fa", [1]),
    ("settembre e ottobre", [1, 2]), ("la rata di gennaio", [5]),
    ("quella di marzo", None),  # no installment listed in March
    ("7", None), ("boh", None),
])
def test_installments_by_position_or_month(text, expected):
    assert choice_in(text, len(DUES), DUES, today=TODAY) == expected


def test_months_without_the_list_still_count_as_an_answer():
    assert months_named("quella di 2 mesi fa", TODAY) == [(2026, 10)]
    assert names_installments("la rata di marzo")
    assert names_installments("la seconda")
    assert names_installments("come si paga?") is None


# --- the question, against the real backend stub -------------------------------------


@pytest.fixture
def backend(actions_on_fresh_backend):
    return actions_on_fresh_backend


def test_a_verified_customer_is_asked_with_their_policies_as_buttons(backend):
    tracker = make_tracker(customer_metadata(1), slots={FOCUS_SLOT: "AL10000001"})
    messages, _ = run(ActionAskPolicyNumber(), tracker)
    assert responses(messages) == ["utter_ask_policy_number_focus"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["AL10000001"]


def test_a_visitor_gets_the_plain_question(backend):
    messages, _ = run(ActionAskPolicyNumber(), make_tracker(None))
    assert responses(messages) == ["utter_ask_policy_number"]
    assert not messages[0].get("buttons")


@pytest.mark.parametrize("text,named", [
    ("grazie! poi tra un mese vorrei riattivarla, sempre sulla stessa polizza", True),
    ("vorrei sospendere quella di prima", True),
    ("vorrei sospendere la copertura", False),
    ("la polizza vita", False),
])
def test_a_request_in_words_can_name_the_policy_in_focus(text, named):
    from actions.policy_focus import names_focus

    assert names_focus(text) is named
