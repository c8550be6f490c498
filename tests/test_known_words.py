"""Gibberish gets no intent; typos and shorthand keep theirs (bot/nlu/known_words.py)."""

from __future__ import annotations

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.known_words import KnownWordsGate

TRAINING = ["ho dimenticato la password", "non mi arriva il codice via sms", "grazie mille",
            "come pago la rata", "aperto certo power"]


@pytest.fixture
def gate(tmp_path):
    storage = LocalModelStorage(tmp_path)
    resource = Resource("gate")
    context = ExecutionContext(GraphSchema({}), "test")
    trained = KnownWordsGate.create(KnownWordsGate.get_default_config(), storage, resource,
                                    context)
    trained.train(TrainingData([Message(data={"text": t, "intent": "x"}) for t in TRAINING]))
    return KnownWordsGate.load(KnownWordsGate.get_default_config(), storage, resource, context)


def _classified(text):
    message = Message(data={"text": text})
    message.set("intent", {"name": "conferma", "confidence": 0.6}, add_to_output=True)
    message.set("intent_ranking", [{"name": "conferma", "confidence": 0.6}], add_to_output=True)
    return message


@pytest.mark.parametrize("text,kept", [
    ("zxqv plomb trr", False), ("qwrt zzkp", False),
    ("pasword dimentcata", True),  # typos of trained words
    ("grz", True), ("ok", True),  # one short word: left to the classifier
    ("/conferma", True), ("mi arriva zxqv", True),
    # «wer» of «power» and «ert» of «aperto»: trigrams of different words make no typo
    ("xkjq wert", False), ("codise pasword", True),
])
def test_gate(gate, text, kept):
    message = gate.process([_classified(text)])[0]
    assert (message.get("intent")["name"] == "conferma") is kept
