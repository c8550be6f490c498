"""bot/rasa_speedups.py: the same verdicts and errors as Rasa's own check, faster."""

from __future__ import annotations

import time

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot import rasa_speedups

VALID = {"events": [{"event": "session_started"},
                    {"event": "slot", "name": "brand", "value": "cavita"},
                    {"event": "action", "name": "action_listen"}],
         "responses": [{"text": "ciao"}]}
INVALID = [
    {"events": [{"event": "slot"}]},              # a slot event without a name
    {"events": "not a list"},
    {"events": [], "responses": ["text"]},
    {"events": [{"event": "no_such_event"}]},
]


@pytest.fixture()
def original():
    if rasa_speedups._ORIGINAL is not None:
        return rasa_speedups._ORIGINAL
    return RemoteAction._validate_action_result


@pytest.mark.parametrize("result", [VALID, *INVALID])
def test_same_verdict_and_message_as_rasa(result, original):
    action = RemoteAction("action_x", None)

    def outcome(check):
        try:
            return check(action, result)
        except ValidationError as error:
            return ("error", error.message, list(error.path))

    assert outcome(rasa_speedups.validate_action_result) == outcome(original)


def test_installed_and_faster(original, monkeypatch):
    monkeypatch.setenv("RASA_SPEEDUPS", "1")
    assert rasa_speedups.install()
    assert RemoteAction._validate_action_result is rasa_speedups.validate_action_result
    action = RemoteAction("action_x", None)
    started = time.perf_counter()
    for _ in range(5):
        original(action, VALID)
    slow = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(5):
        action._validate_action_result(VALID)
    assert time.perf_counter() - started < slow / 5
