"""Keeps customers and visitors away from the staff lookups, after the classifier ranked.

Why: the classifier sees only words, so a customer asking «siete aperti sabato?» could land
on a staff lookup and get the staff-only refusal. The verified identity in the message
metadata (the same token the actions check, identity/tokens.py) decides: for anybody but
agency staff, staff intents are removed from the ranking and the rest renormalised (the
classifier's distribution given the scope), so the FallbackClassifier after this component
still judges the confidence. For staff the other way round: a customer's own-data reading
of a message that names a customer by a key the staff lookup searches by (policy number,
codice fiscale, partita IVA, mobile: actions/staff_lookup.py, «polizze della polizza CV…»,
«richieste aperte della AL…») is the lookup of that customer, so its share moves to the
staff counterpart; and the lookup asked is the one the message opens with («recapiti
del…», «richieste aperte…»), as staff write them. Without a customer named, «le mie
polizze» from staff reaches the guard (actions/guard.py), which never shows a customer's
data to staff and says what staff can ask instead.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from actions.staff_lookup import names_a_customer
from identity import identity_from_metadata

# What a staff member's customer-data question is, read as the lookup it means.
STAFF_COUNTERPARTS = {
    "le_mie_polizze": "staff_polizze_cliente",
    "mio_recapito_dispositivo": "staff_recapiti_cliente",
    "invia_richiesta_agenzia": "staff_richieste_cliente",
}
# The lookup a staff question opens with: «recapiti del cellulare…», «richieste aperte…».
STAFF_VIEW_WORDS = (
    (re.compile(r"\b(polizz|contratt)", re.IGNORECASE), "staff_polizze_cliente"),
    (re.compile(r"\b(recapit|contatt|cellular|mail|telefon)", re.IGNORECASE),
     "staff_recapiti_cliente"),
    (re.compile(r"\b(richiest|pratich)", re.IGNORECASE), "staff_richieste_cliente"),
)


def first_view(text: str) -> str | None:
    """The lookup whose word comes first: «recapiti della polizza…» asks for contacts."""
    found = [(m.start(), view) for pattern, view in STAFF_VIEW_WORDS
             if (m := pattern.search(text))]
    return min(found)[1] if found else None


def staff_reading(text: str, ranking: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """A staff member's ranking with customer-data readings moved to the lookups when the
    message names a customer, and the lookup its first words ask for on top."""
    if not names_a_customer(text):
        return ranking
    merged: Dict[str, float] = {}
    for r in ranking:
        name = STAFF_COUNTERPARTS.get(str(r["name"]), str(r["name"]))
        merged[name] = merged.get(name, 0.0) + float(r.get("confidence") or 0.0)
    lookup_mass = sum(c for n, c in merged.items() if n in STAFF_COUNTERPARTS.values())
    head = first_view(text)
    if head is not None and lookup_mass >= max(merged.values()):
        # The lookups together are the likeliest reading: the first words say which one.
        for name in STAFF_COUNTERPARTS.values():
            merged.pop(name, None)
        merged[head] = lookup_mass
    return sorted(({"name": n, "confidence": c} for n, c in merged.items()),
                  key=lambda r: r["confidence"], reverse=True)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class ChannelIntentScope(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"staff_prefix": "staff_"}

    def __init__(self, config: Dict[str, Any]) -> None:
        self.staff_prefix = str(config.get("staff_prefix") or "staff_")

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChannelIntentScope:
        return cls(config)

    def allowed(self, intent: str, staff: bool) -> bool:
        return staff or not intent.startswith(self.staff_prefix)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._scope(message)
        return messages

    def _scope(self, message: Message) -> None:
        intent = message.get(INTENT) or {}
        ranking = message.get(INTENT_RANKING_KEY) or []
        name = intent.get("name")
        if not name or str(message.get("text") or "").startswith("/"):
            return  # a button payload names its intent: nothing to re-rank
        staff = identity_from_metadata(message.get("metadata") or {}).kind == "staff"
        if staff:
            read = staff_reading(str(message.get("text") or ""), ranking)
            if read and read is not ranking:
                message.set(INTENT, dict(read[0]), add_to_output=True)
                message.set(INTENT_RANKING_KEY, read, add_to_output=True)
            return
        if self.allowed(name, staff) and all(self.allowed(r["name"], staff) for r in ranking):
            return
        kept = [dict(r) for r in ranking if self.allowed(r["name"], staff)]
        mass = sum(float(r.get("confidence") or 0.0) for r in kept)
        if not kept or mass <= 0:
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
            return
        for r in kept:
            r["confidence"] = float(r.get("confidence") or 0.0) / mass
        kept.sort(key=lambda r: r["confidence"], reverse=True)
        message.set(INTENT, dict(kept[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, kept, add_to_output=True)
