"""The domain and the training examples are split by topic the same way (domain/<topic>.yml,
bot/data/nlu/<topic>.yml), and the plain merge of bot/domain_files.py is what Rasa loads."""

from __future__ import annotations

import pytest
import yaml

from bot.domain_files import DOMAIN_DIR, domain_dict, domain_files, merge, nlu_files

# NLU files that hold no intent of a domain topic of the same name.
REGEX_ONLY = {"regex"}


def _intents_by_file(paths):
    return {p.stem: [b["intent"] for b in yaml.safe_load(p.read_text()).get("nlu") or []
                     if "intent" in b] for p in paths}


def test_the_plain_merge_is_what_rasa_loads(domain):
    merged = domain_dict()
    assert set(merged["intents"]) == set(domain.as_dict()["intents"])
    assert set(merged["responses"]) == set(domain.responses)
    assert set(merged["slots"]) == {s.name for s in domain.slots} - {
        "requested_slot", "session_started_metadata"}
    assert set(merged["forms"]) == set(domain.forms)
    assert set(merged["actions"]) == set(domain.as_dict()["actions"])
    assert merged["session_config"]["session_expiration_time"] == (
        domain.session_config.session_expiration_time)


def test_every_domain_file_is_a_versioned_domain_file():
    assert (DOMAIN_DIR / "core.yml") in domain_files()
    for path in domain_files():
        assert yaml.safe_load(path.read_text())["version"] == "3.1", path.name


def test_a_name_declared_in_two_files_is_refused():
    with pytest.raises(ValueError, match="utter_saluto"):
        merge([{"responses": {"utter_saluto": []}}, {"responses": {"utter_saluto": []}}],
              ["core.yml", "other.yml"])


def test_each_intent_has_its_examples_in_the_nlu_file_of_its_domain_topic():
    in_domain = {p.stem: yaml.safe_load(p.read_text()).get("intents") or []
                 for p in domain_files()}
    in_nlu = _intents_by_file(nlu_files())
    assert set(in_nlu) - REGEX_ONLY == set(in_domain), "one NLU file per domain topic"
    for topic, intents in in_domain.items():
        assert in_nlu[topic] == intents, topic  # same intents, in the same order
