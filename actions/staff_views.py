"""Which view of a customer a staff message asks for: policies, contacts, open requests.

Why its own module: the intent names the view, except when the staff member only swaps the
customer («che polizze ha RSSMRA…?», then «e di quello col cellulare 320 555 6677?»): the
word «cellulare» there names the search key, not the contacts, so the question is the
previous one asked of another customer.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Literal

View = Literal["policies", "contacts", "requests", "all"]

VIEWS: Dict[str, View] = {
    "staff_polizze_cliente": "policies",
    "staff_recapiti_cliente": "contacts",
    "staff_richieste_cliente": "requests",
}
# Words that ask for a view, on text without accents.
VIEW_WORDS = re.compile(
    r"\b(polizz\w*|contratt\w*|recapit\w*|contatt\w*|telefon\w*|e ?mail|cellular\w*|numer\w*"
    r"|richiest\w*|pratich\w*|ticket|sinistr\w*|riscatt\w*|paperless|fea|firma)\b")
# The noun that introduces a search key («col cellulare 320…», «con cf RSS…»).
KEY_NOUN = re.compile(
    r"(?:\b(?:col|coi|con|con il|con la|del|della|di|per|il|la)\s+)?"
    r"\b(?:cellulare|cell|numero(?: di telefono)?|telefono|mail|e-?mail|codice fiscale|c\.?f\.?"
    r"|partita iva|p\.? ?iva|polizza|n\.?)\s*$", re.IGNORECASE)


def view_for(intent: str | None) -> View:
    return VIEWS.get(intent or "", "all")


def names_a_view(text: str, entities: List[Dict[str, Any]]) -> bool:
    """Whether ``text`` asks for a view in words other than the search key's own noun."""
    rest, cursor = [], 0
    for entity in sorted((e for e in entities if isinstance(e.get("start"), int)),
                         key=lambda e: e["start"]):
        rest.append(KEY_NOUN.sub("", text[cursor:entity["start"]]))
        cursor = int(entity.get("end") or entity["start"])
    rest.append(text[cursor:])
    return bool(VIEW_WORDS.search(" ".join(rest).lower()))


def view_asked(latest: Dict[str, Any], previous_intents: List[str]) -> View:
    """The view of the latest message; the previous staff question's when it names none."""
    intent = ((latest.get("intent") or {}).get("name"))
    entities = [e for e in latest.get("entities") or [] if isinstance(e, dict)]
    text = latest.get("text") if isinstance(latest.get("text"), str) else ""
    if entities and not names_a_view(text, entities):
        earlier = next((i for i in previous_intents if i in VIEWS), None)
        if earlier:
            return view_for(earlier)
    return view_for(intent)
