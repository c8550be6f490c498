"""The view a staff message asks for (actions/staff_views.py)."""

from __future__ import annotations

import pytest

from actions.staff_views import view_asked


def _latest(text, intent, value):
    start = text.index(value)
    return {"text": text, "intent": {"name": intent},
            "entities": [{"entity": "phone_number", "value": value, "start": start,
                          "end": start + len(value)}]}


@pytest.mark.parametrize("text,intent,value,previous,expected", [
    # only the customer changes: the previous question's view
    ("e di quello col cellulare 320 555 6677?", "staff_recapiti_cliente", "320 555 6677",
     ["staff_polizze_cliente"], "policies"),
    ("e per il numero 3331234567", "staff_recapiti_cliente", "3331234567",
     ["saluto", "staff_richieste_cliente"], "requests"),
    # a view named in words stands
    ("e i recapiti del cliente col cellulare 3331234567?", "staff_recapiti_cliente",
     "3331234567", ["staff_polizze_cliente"], "contacts"),
    ("polizze del cellulare 3331234567", "staff_polizze_cliente", "3331234567",
     ["staff_recapiti_cliente"], "policies"),
    # nothing asked before: the intent's view
    ("cliente col cellulare 3331234567", "staff_recapiti_cliente", "3331234567", [],
     "contacts"),
])
def test_a_new_key_alone_asks_the_previous_view(text, intent, value, previous, expected):
    assert view_asked(_latest(text, intent, value), previous) == expected
