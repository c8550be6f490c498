"""A typed label or number of a shown button is that button (bot/channels/typed_buttons.py)."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.typed_buttons import button_choice, shown_buttons

CONFIRM = [{"title": "Sì, invia", "payload": "/conferma"}, {"title": "No", "payload": "/negazione"}]
METHODS = [{"title": "Carta Visa", "payload": "visa"}, {"title": "MyBank", "payload": "mybank"}]


@pytest.mark.parametrize("text,buttons,expected", [
    ("sì, invia", CONFIRM, "/conferma"), ("Si invia!", CONFIRM, "/conferma"),
    ("2", CONFIRM, "/negazione"), ("1.", CONFIRM, "/conferma"), ("n. 1", CONFIRM, "/conferma"),
    ("conferma", CONFIRM, "/conferma"), ("mybank", METHODS, "mybank"),
    ("carta visa", METHODS, "visa"), ("3", CONFIRM, None), ("sì procedi", CONFIRM, None),
    ("vorrei pagare con la carta visa della banca", METHODS, None), ("", CONFIRM, None),
])
def test_button_choice(text, buttons, expected):
    assert button_choice(text, buttons) == expected


def test_a_number_under_a_numbered_list_is_not_a_button():
    prompt = "Queste sono le rate:\n1. scadenza 01/01/2026\n2. scadenza 01/02/2026"
    assert button_choice("1", CONFIRM, prompt) is None


def _tracker(*events):
    return DialogueStateTracker.from_events("u1", list(events))


def test_only_buttons_of_the_current_turn_count():
    shown = _tracker(UserUttered("ciao"), BotUttered("La invio?", {"buttons": CONFIRM}))
    assert shown_buttons(list(shown.events))[0] == CONFIRM
    answered = _tracker(BotUttered("La invio?", {"buttons": CONFIRM}), UserUttered("si"),
                        BotUttered("Fatto."))
    assert shown_buttons(list(answered.events))[0] == []


OFFER = [{"title": "Invia la richiesta alla mia agenzia",
          "payload": '/invia_richiesta_agenzia{"sr_topic": "surrender"}'}]


@pytest.mark.parametrize("text,expected", [
    ("si inviala", OFFER[0]["payload"]), ("sì grazie", OFFER[0]["payload"]),
    ("certo", OFFER[0]["payload"]), ("ok procedi", OFFER[0]["payload"]),
    ("ok grazie", None), ("ok", None), ("grazie", None), ("no grazie", None),
    ("si ma non adesso", None), ("si aspetta un attimo", None),
    ("e quanto ci vuole?", None), ("si puo sospendere la copertura online?", None),
    ("si ma quanto costa", None), ("sì per favore", OFFER[0]["payload"]),
])
def test_a_yes_under_a_single_offer_takes_it(text, expected):
    assert button_choice(text, OFFER) == expected


def test_a_yes_under_two_buttons_is_left_to_the_form():
    assert button_choice("si inviala", CONFIRM) is None
