"""What may be written about a conversation: the masking rules of bot/redaction.py."""

from __future__ import annotations

import copy

import pytest

from actions.form_cancel import ABORTED
from actions.step_up import VERIFIED
from bot.domain_files import domain_dict
from bot.redaction import (
    CODE_SLOTS,
    LIVE_SLOTS,
    METADATA_SLOTS,
    TOKEN_SLOTS,
    redact_event,
    redact_metadata,
    redact_slot,
    redact_text,
)
from identity import TOKEN_METADATA_KEY

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI3IiwiYnJhbmQiOiJjYXZpdGEifQ.c2lnbmF0dXJl"


@pytest.mark.parametrize("text,expected", [
    ("123456", "******"),
    ("12345", "*****"),
    ("il codice è 123 456", "il codice è *** ***"),
    ("mario.rossi@example.it", "m***@example.it"),
    ("scrivete a Mario_R+x@posta.example.com grazie", "scrivete a M***@posta.example.com grazie"),
    ("IT60X0542811101000000123456", "IT** **** 3456"),
    ("iban: it60 x054 2811 1010 0000 0123 456, grazie", "iban: IT** **** 3456, grazie"),
    ("ES91 2100 0418 4502 0005 1332 e poi", "ES** **** 1332 e poi"),
    ("cliente RSSMRA80A01H501U", "cliente RSS************U"),
    ("il mio numero è +39 333 123 4567", "il mio numero è +39 *** *** 4567"),
    (f"token {JWT}", "token [token]"),
])
def test_personal_data_in_user_texts_is_masked(text, expected):
    assert redact_text(text, codes=True) == expected
    assert redact_text(expected, codes=True) == expected  # masking twice changes nothing


@pytest.mark.parametrize("text", [
    "id:12345,id:12346",              # installment ids (payment form)
    "CV20000002", "AL10000001",       # policy numbers
    "versamento di 1.500,00 euro", "il 12/03/2024 alle 10:30",
    "vorrei il riscatto parziale della CV20000005",
    "__verificato__",
])
def test_what_is_not_personal_stays(text):
    assert redact_text(text, codes=True) == text


def test_the_code_rule_is_for_user_texts_only():
    assert redact_text("ticket 123456") == "ticket 123456"  # bot texts, slot values
    assert redact_text("ticket 123456", codes=True) == "ticket ******"


def test_metadata_keeps_brand_and_context_but_never_a_token():
    metadata = {TOKEN_METADATA_KEY: JWT, "brand": "cavita", "channel": "whatsapp",
                "profile_name": "Mario Rossi", "message_sid": "SM0123",
                "context": {"recent_intents": ["chiedi_codice"], "form": None},
                "nested": {"access_token": "x", "note": "scrivi a anna@example.it"}}
    redacted = redact_metadata(metadata)
    assert redacted == {"brand": "cavita", "channel": "whatsapp", "message_sid": "SM0123",
                        "context": {"recent_intents": ["chiedi_codice"], "form": None},
                        "nested": {"note": "scrivi a a***@example.it"}}
    assert TOKEN_METADATA_KEY in metadata  # the running turn's metadata is left as it is


def test_user_event_text_parse_data_entities_and_metadata():
    event = {
        "event": "user", "timestamp": 1.0, "text": "123456",
        "metadata": {TOKEN_METADATA_KEY: JWT, "brand": "alleanza"},
        "parse_data": {
            "text": "123456", "intent": {"name": "inform", "confidence": 0.9},
            "entities": [{"entity": "email", "value": "luca@example.it", "start": 0, "end": 15}],
            "metadata": {TOKEN_METADATA_KEY: JWT},
            "intent_ranking": [{"name": "inform", "confidence": 0.9}],
        },
    }
    original = copy.deepcopy(event)
    redacted = redact_event(event)
    assert event == original  # a new dict; the turn's own event is untouched
    assert redacted["text"] == redacted["parse_data"]["text"] == "******"
    assert redacted["parse_data"]["entities"][0]["value"] == "l***@example.it"
    assert redacted["parse_data"]["intent"] == {"name": "inform", "confidence": 0.9}
    assert redacted["metadata"] == {"brand": "alleanza"}
    assert redacted["parse_data"]["metadata"] == {}
    assert JWT not in repr(redacted)


def test_bot_texts_and_buttons_are_masked_without_the_code_rule():
    event = {"event": "bot", "text": "Riepilogo:\n- e-mail: anna.b@example.it\n- ticket 104233",
             "data": {"buttons": [{"title": "Sì, invia", "payload": "/conferma"}]}}
    redacted = redact_event(event)
    assert redacted["text"] == "Riepilogo:\n- e-mail: a***@example.it\n- ticket 104233"
    assert redacted["data"] == event["data"]


@pytest.mark.parametrize("name,value,expected", [
    ("step_up_code", "123456", "******"),
    ("pay_otp", "il codice è 12345", "il codice è *****"),
    ("pay_otp", VERIFIED, VERIFIED),
    ("step_up_code", ABORTED, ABORTED),
    ("support_email", "giulia.bianchi@example.it", "g***@example.it"),
    ("sr_iban", "IT60X0542811101000000123456", "IT** **** 3456"),
    ("identity_step_up", JWT, "[token]"),
    ("session_started_metadata", {TOKEN_METADATA_KEY: JWT, "brand": "cavita"},
     {"brand": "cavita"}),
    ("pay_installments", "id:12345,id:12346", "id:12345,id:12346"),
    ("policy_number", "CV20000002", "CV20000002"),
    ("brand", "cavita", "cavita"),
    ("support_email", None, None),
])
def test_slot_values(name, value, expected):
    assert redact_slot(name, value) == expected


def test_every_slot_named_by_the_rules_exists_in_the_domain():
    """A renamed slot would silently be written in clear."""
    slots = set(domain_dict()["slots"])
    named = CODE_SLOTS | TOKEN_SLOTS | LIVE_SLOTS | {"step_up_customer"}
    assert named - slots == set()
    assert METADATA_SLOTS == {"session_started_metadata"}  # Rasa's own slot


def test_backend_identifiers_in_slots_are_never_masked():
    from bot.redaction import redact_slot

    challenge = "ab12cd34ef56ab78cd90ef12ab34cd56"  # 32 hex characters, IBAN-shaped
    assert redact_slot("payment_challenge", challenge) == challenge
    assert redact_slot("step_up_challenge", challenge) == challenge
    assert redact_slot("pay_installments", "id:12,id:13") == "id:12,id:13"
    assert redact_slot("sr_iban", "IT60X0542811101000000123456") != "IT60X0542811101000000123456"
