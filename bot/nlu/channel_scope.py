"""Keeps customers and visitors away from the staff lookups, after the classifier ranked.

Why: the classifier sees only words, so a customer asking «siete aperti sabato?» could land
on a staff lookup and get the staff-only refusal. The verified identity in the message
metadata (the same token the actions check, identity/tokens.py) decides: for anybody but
agency staff, staff intents are removed from the ranking and the rest renormalised (the
classifier's distribution given the scope), so the FallbackClassifier after this component
still judges the confidence. The other way round needs no filter: a staff member asking
for «le mie polizze» reaches the guard (actions/guard.py), which never shows a customer's
data to staff and answers with what staff can ask instead.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from identity import identity_from_metadata


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
