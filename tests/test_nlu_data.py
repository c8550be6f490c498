"""The training data is usable and the held-out set stays unseen."""

from __future__ import annotations

from collections import Counter

import yaml

from tests.conftest import ROOT

MIN_FAQ_EXAMPLES = 20
MIN_HELDOUT = 150


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def test_every_faq_intent_has_enough_varied_examples(training_data, intents):
    counts = Counter(m.get("intent") for m in training_data.intent_examples)
    faq_intents = [i for i in intents if i.startswith("faq_")]
    assert len(faq_intents) >= 35
    thin = {i: counts[i] for i in faq_intents if counts[i] < MIN_FAQ_EXAMPLES}
    assert not thin, f"intents with fewer than {MIN_FAQ_EXAMPLES} examples: {thin}"


def test_training_examples_are_not_repeated(training_data):
    texts = Counter(normalise(m.get("text")) for m in training_data.intent_examples)
    repeated = [t for t, n in texts.items() if n > 1]
    assert not repeated


def test_heldout_set_is_large_and_never_trained_on(training_data, heldout_data):
    trained = {normalise(m.get("text")) for m in training_data.intent_examples}
    heldout = [normalise(m.get("text")) for m in heldout_data.intent_examples]
    assert len(heldout) >= MIN_HELDOUT
    leaked = sorted(set(heldout) & trained)
    assert not leaked, f"held-out utterances found in training data: {leaked}"


def test_heldout_and_training_cover_the_same_intents(training_data, heldout_data, intents):
    assert set(heldout_data.intents) == set(intents)
    assert set(training_data.intents) == set(intents)


def test_conversation_tests_use_unseen_messages(training_data):
    stories = yaml.safe_load((ROOT / "tests" / "test_stories.yml").read_text())["stories"]
    trained = {normalise(m.get("text")) for m in training_data.intent_examples}
    messages = [
        normalise(step["user"]) for story in stories for step in story["steps"] if "user" in step
    ]
    assert messages
    assert not sorted(set(messages) & trained)
