"""Customer channels and visitors never land on staff intents; staff keep every intent."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.channel_scope import ChannelIntentScope
from identity.minting import mint_customer_token, mint_staff_token

SCOPE = ChannelIntentScope({"staff_prefix": "staff_"})


def _message(ranking, metadata=None, text="siete aperti sabato?"):
    message = Message(data={"text": text, "metadata": metadata or {}})
    message.set("intent", dict(ranking[0]), add_to_output=True)
    message.set("intent_ranking", [dict(r) for r in ranking], add_to_output=True)
    return message


RANKING = [{"name": "staff_richieste_cliente", "confidence": 0.6},
           {"name": "richiesta_operatore", "confidence": 0.3},
           {"name": "le_mie_polizze", "confidence": 0.1}]


@pytest.mark.parametrize("metadata", [
    {}, {"brand": "cavita"}, {"identity_token": mint_customer_token(7, "cavita")},
    {"identity_token": "forged.token.value", "role": "staff"},
])
def test_customers_and_visitors_never_get_staff_intents(metadata):
    message = SCOPE.process([_message(RANKING, metadata)])[0]
    assert message.get("intent")["name"] == "richiesta_operatore"
    assert message.get("intent")["confidence"] == pytest.approx(0.75)
    assert all(not r["name"].startswith("staff_") for r in message.get("intent_ranking"))


def test_staff_keep_their_ranking():
    """«le mie polizze» from staff reaches the guard, which answers with the staff hint."""
    metadata = {"identity_token": mint_staff_token("s1", "agency_employee", "AL-MI-001")}
    ranking = [{"name": "le_mie_polizze", "confidence": 0.7},
               {"name": "staff_polizze_cliente", "confidence": 0.3}]
    message = SCOPE.process([_message(ranking, metadata)])[0]
    assert message.get("intent") == {"name": "le_mie_polizze", "confidence": 0.7}


def test_button_payloads_are_left_alone():
    message = SCOPE.process([_message(RANKING, {}, text="/staff_richieste_cliente")])[0]
    assert message.get("intent")["name"] == "staff_richieste_cliente"


STAFF = {"identity_token": mint_staff_token("s1", "agency_employee", "CV-MI-0205")}


@pytest.mark.parametrize("text,ranking,expected", [
    # A customer's own-data reading of a message naming a customer is the lookup.
    ("polizze della polizza CV20000008",
     [{"name": "le_mie_polizze", "confidence": 0.5},
      {"name": "invia_richiesta_agenzia", "confidence": 0.4},
      {"name": "faq_accesso", "confidence": 0.1}], "staff_polizze_cliente"),
    ("richieste aperte della polizza AL10000004",
     [{"name": "le_mie_polizze", "confidence": 0.6},
      {"name": "staff_richieste_cliente", "confidence": 0.3},
      {"name": "faq_accesso", "confidence": 0.1}], "staff_richieste_cliente"),
    ("recapiti della polizza CV20000005",
     [{"name": "paga_rata", "confidence": 0.3},
      {"name": "mio_recapito_dispositivo", "confidence": 0.25},
      {"name": "staff_polizze_cliente", "confidence": 0.25},
      {"name": "faq_recapito_dispositivo", "confidence": 0.2}], "staff_recapiti_cliente"),
])
def test_staff_naming_a_customer_get_the_lookup_they_open_with(text, ranking, expected):
    message = SCOPE.process([_message(ranking, STAFF, text=text)])[0]
    assert message.get("intent")["name"] == expected
    assert message.get("intent")["confidence"] >= 0.5
    names = [r["name"] for r in message.get("intent_ranking")]
    assert "le_mie_polizze" not in names and "mio_recapito_dispositivo" not in names


def test_staff_asking_a_faq_with_a_number_keep_the_faq():
    ranking = [{"name": "faq_codice_verifica", "confidence": 0.8},
               {"name": "le_mie_polizze", "confidence": 0.2}]
    text = "il codice di 6 cifre per la AL10000001 quanto dura"
    message = SCOPE.process([_message(ranking, STAFF, text=text)])[0]
    assert message.get("intent")["name"] == "faq_codice_verifica"
