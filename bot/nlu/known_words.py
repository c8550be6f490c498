"""Sends messages made only of words nobody ever wrote to us to the fallback.

Why: the classifier always picks some intent, and character n-grams give made-up strings
(«zxqv plomb trr») a confident «conferma», so the customer read «Bene.» to gibberish.
At training time this component keeps every word of the training data and its character
trigrams. A message of two words or more none of which was seen, or shares at least half
of its trigrams with the words seen, gets no intent: the FallbackClassifier after it
answers «non sono sicuro». Typos pass («pasword» and «dimentcata» share most trigrams
with «password» and «dimenticata»), and so does a single word («grz», «thx»).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

FILE = "trigrams.json"
MIN_SHARED = 0.5


def words(text: str) -> List[str]:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return [w for w in re.findall(r"[a-z]+", bare) if len(w) >= 3]


def trigrams(word: str) -> set[str]:
    return {word[i:i + 3] for i in range(len(word) - 2)}


def index_by_trigram(known: set[str]) -> Dict[str, List[str]]:
    index: Dict[str, List[str]] = defaultdict(list)
    for word in known:
        for gram in trigrams(word):
            index[gram].append(word)
    return dict(index)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class KnownWordsGate(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_shared": MIN_SHARED}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 known: Dict[str, set[str]] | None = None) -> None:
        self.model_storage, self.resource = model_storage, resource
        self.min_shared = float(config.get("min_shared", MIN_SHARED))
        known = known or {}
        self.words, self.trigrams = known.get("words", set()), known.get("trigrams", set())
        self._by_trigram = index_by_trigram(self.words)

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> KnownWordsGate:
        return cls(config, model_storage, resource)

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> KnownWordsGate:
        try:
            with model_storage.read_from(resource) as folder:
                raw = json.loads((folder / FILE).read_text(encoding="utf-8"))
            known = {"words": set(raw["words"]), "trigrams": set(raw["trigrams"])}
        except (ValueError, KeyError, TypeError, FileNotFoundError):
            known = {}
        return cls(config, model_storage, resource, known)

    def train(self, training_data: TrainingData) -> Resource:
        seen: set[str] = set()
        for example in training_data.training_examples:
            seen.update(words(str(example.get("text") or "")))
        self.words = seen
        self.trigrams = {gram for word in seen for gram in trigrams(word)}
        self._by_trigram = index_by_trigram(seen)
        with self.model_storage.write_to(self.resource) as folder:
            (folder / FILE).write_text(json.dumps(
                {"words": sorted(self.words), "trigrams": sorted(self.trigrams)}),
                encoding="utf-8")
        return self.resource

    def is_known(self, word: str) -> bool:
        """A word written before, or (four letters or more) a likely typo of one: it shares
        at least ``min_shared`` of its trigrams with one word seen («pasword»: password).
        Trigrams spread over many words do not count («wert»: «wer» of one, «ert» of
        another)."""
        if word in self.words:
            return True
        grams = trigrams(word)
        if len(word) < 4 or len(grams & self.trigrams) < self.min_shared * len(grams):
            return False
        shared: Counter[str] = Counter()
        for gram in grams:
            shared.update(self._by_trigram.get(gram, ()))
        # at least two: one trigram in common («ert») is chance, not a typo
        return bool(shared) and max(shared.values()) >= max(2.0, self.min_shared * len(grams))

    def process(self, messages: List[Message]) -> List[Message]:
        if not self.words:
            return messages  # an old model without the gate's data: nothing to judge
        for message in messages:
            text = str(message.get("text") or "")
            found = words(text)
            # One short word («grz», «thx») is left to the classifier: shorthand, not noise.
            if text.startswith("/") or len(found) < 2 or any(self.is_known(w) for w in found):
                continue
            message.set(INTENT, {"name": None, "confidence": 0.0}, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [], add_to_output=True)
        return messages
