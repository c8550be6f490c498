"""An unsure reading offers the likeliest intents as buttons (actions/suggestions.py)."""

from __future__ import annotations

from rasa_sdk import Tracker

from actions.suggestions import ActionSuggerisciIntenti, labels
from bot.domain_files import domain_dict
from tests.actions.helpers import responses, run

RANKING = [{"name": "nlu_fallback", "confidence": 0.4},
           {"name": "faq_codice_verifica", "confidence": 0.33},
           {"name": "saluto", "confidence": 0.2},
           {"name": "faq_codice_non_ricevuto", "confidence": 0.29},
           {"name": "staff_polizze_cliente", "confidence": 0.15},
           {"name": "faq_accesso", "confidence": 0.09},
           {"name": "faq_sinistro", "confidence": 0.01}]


def _tracker(ranking, before=None):
    latest = {"text": "il coso del codice", "intent": {"name": "nlu_fallback"},
              "intent_ranking": ranking}
    events = []
    if before:
        events.append({"event": "user", "text": "boh", "parse_data": {"intent": {"name": before}}})
    events.append({"event": "user", "text": latest["text"], "parse_data": latest})
    return Tracker("u1", {}, latest, events, False, None, {}, "action_listen")


def test_the_likeliest_customer_intents_become_buttons():
    messages, _ = run(ActionSuggerisciIntenti(), _tracker(RANKING))
    assert responses(messages) == ["utter_suggerimenti"]
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        "/faq_codice_verifica", "/faq_codice_non_ricevuto", "/faq_accesso"]
    assert messages[0]["buttons"][0]["title"] == "Che cos'è il codice di verifica"


def test_nothing_plausible_asks_to_rephrase():
    noise = [{"name": "nlu_fallback", "confidence": 0.4}, {"name": "saluto", "confidence": 0.5},
             {"name": "faq_sinistro", "confidence": 0.03}]
    for ranking in ([], noise):
        messages, _ = run(ActionSuggerisciIntenti(), _tracker(ranking))
        assert responses(messages) == ["utter_default"]


def test_a_second_miss_in_a_row_offers_a_person():
    messages, _ = run(ActionSuggerisciIntenti(), _tracker(RANKING, before="nlu_fallback"))
    assert responses(messages) == ["utter_suggerimenti", "utter_offri_operatore"]
    messages, _ = run(ActionSuggerisciIntenti(), _tracker(RANKING, before="faq_accesso"))
    assert responses(messages) == ["utter_suggerimenti"]


def test_every_label_names_an_intent_of_the_domain_and_no_staff_one():
    intents = set(domain_dict()["intents"])
    assert set(labels()) <= intents
    assert not any(name.startswith("staff_") for name in labels())
    assert all(0 < len(title) <= 60 for title in labels().values())
