"""Reads a short follow-up against the subject of the previous answer.

Why: «come lo cambio?» says nothing about *what*; a person hears it as the change of the
dispositive contact they were just told about. The classifier sees one message at a time,
so it guessed a password change or nothing. Every channel puts the intents of the last
user turns into the message metadata (``context.recent_intents``, newest first,
bot/channels/turn_context.py); this component, after the classifier, looks the subject up
in bot/nlu/topics.yml and, when the message is short, names no other subject and asks one
of the subject's known follow-ups, makes that follow-up the intent. Anything else keeps the
classifier's reading. The table is read at start-up: changing it needs no training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.context_ranking import ContextRanking, in_context
from bot.nlu.topic_table import TOPICS_FILE, Topics, plain_text

__all__ = ["FollowUpResolver", "Topics", "TOPICS_FILE", "plain_text", "context_of"]

RESOLVED_CONFIDENCE = 0.9  # leaves the FallbackClassifier's ambiguity check nothing to doubt
SIBLINGS_TOGETHER = 0.5  # two siblings this likely together are one reading, not noise

def context_of(message: Message) -> tuple[List[str], str | None]:
    """The channel's context: recent intents (newest first) and the form in progress."""
    context = (message.get("metadata") or {}).get("context")
    if not isinstance(context, dict):
        return [], None
    recent = context.get("recent_intents")
    form = context.get("form")
    return ([str(i) for i in recent if i] if isinstance(recent, list) else [],
            str(form) if form else None)


def last_answers_of(message: Message) -> List[str]:
    """The responses of the assistant's last turn, as the channel put them in the context."""
    context = (message.get("metadata") or {}).get("context")
    said = context.get("last_answers") if isinstance(context, dict) else None
    return [str(a) for a in said if a] if isinstance(said, list) else []


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False
)
class FollowUpResolver(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"topics_file": str(TOPICS_FILE)}

    def __init__(self, topics: Topics, context: ContextRanking | None = None) -> None:
        self.topics = topics
        self.context = context or ContextRanking.load(TOPICS_FILE)

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> FollowUpResolver:
        path = Path(config.get("topics_file") or TOPICS_FILE)
        return cls(Topics.load(path), ContextRanking.load(path))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._resolve(message)
        return messages

    def _resolve(self, message: Message) -> None:
        text = str(message.get("text") or "")
        if text.startswith("/"):
            return  # a button names its own intent
        reading = message.get(INTENT) or {}
        intent, confidence = reading.get("name"), float(reading.get("confidence") or 0.0)
        found = self.topics.after_answer(text, last_answers_of(message), intent, confidence)
        if found is None:
            found = self.topics.pointed_follow_up(text, *context_of(message))
        if found is None and not self.topics.keeps(text, intent, confidence):
            found = self.topics.follow_up(text, *context_of(message))
        if found is not None:
            topic, intent = found
            self._choose(message, intent, {"topic": topic.name})
            return
        in_family = in_context(self.context, self.topics, text, *context_of(message), reading,
                               message.get(INTENT_RANKING_KEY) or [])
        if in_family is not None:
            self._choose(message, in_family, {"in_context": intent})
            return
        same = self.topics.same_subject(text, *context_of(message), intent, confidence)
        if same is not None:
            self._choose(message, same, {"same_subject": same})
            return
        neighbour = self.topics.across_boundary(text, reading.get("name"))
        if neighbour is not None:
            self._choose(message, neighbour, {"boundary": reading.get("name")})
            return
        # Two close readings that this wording makes one («come si chiede il riscatto della
        # AL…?»: the request and its FAQ) are no ambiguity for the fallback to ask about.
        ranking = message.get(INTENT_RANKING_KEY) or []
        if len(ranking) >= 2 and reading.get("name") == ranking[0].get("name"):
            first, second = str(reading.get("name")), str(ranking[1].get("name") or "")
            if self.topics.across_boundary(text, second) == first:
                self._choose(message, first, {"boundary": second})
            elif (self.topics.same_answer(first, second)
                  and sum(float(r.get("confidence") or 0.0) for r in ranking[:2])
                  >= SIBLINGS_TOGETHER):
                # Asking «which of these two?» when either answer serves is a wasted turn.
                self._choose(message, first, {"sibling": second})

    @staticmethod
    def _choose(message: Message, intent: str, why: Dict[str, Any]) -> None:
        """``intent`` on top at RESOLVED_CONFIDENCE, the classifier's ranking below it."""
        ranking = [dict(r) for r in message.get(INTENT_RANKING_KEY) or []
                   if r.get("name") != intent]
        rest = sum(float(r.get("confidence") or 0.0) for r in ranking) or 1.0
        for r in ranking:
            r["confidence"] = float(r.get("confidence") or 0.0) / rest * (1 - RESOLVED_CONFIDENCE)
        chosen = {"name": intent, "confidence": RESOLVED_CONFIDENCE}
        message.set(INTENT, chosen, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)
        message.set("follow_up", why, add_to_output=True)
