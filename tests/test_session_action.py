"""The brand is chosen at session start: channel metadata, previous session, default."""

from __future__ import annotations

import asyncio

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.session import ActionSessionStart
from identity.brands import brand_from_metadata, default_brand, normalise_brand


def start_session(slots: dict) -> dict:
    tracker = Tracker("u1", slots, {}, [], False, None, {}, "action_listen")
    events = asyncio.run(ActionSessionStart().run(CollectingDispatcher(), tracker, {}))
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


@pytest.mark.parametrize("raw,expected", [
    ("cavita", "cavita"), ("CA Vita", "cavita"), ("ca-vita", "cavita"),
    ("Alleanza", "alleanza"), (" alleanza  assicurazioni ", "alleanza"),
    ("generali", None), ("", None), (None, None), (42, None),
])
def test_brand_names_are_normalised(raw, expected):
    assert normalise_brand(raw) == expected


def test_metadata_brand_is_used(monkeypatch):
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "alleanza")
    slots = start_session({"session_started_metadata": {"brand": "CA Vita"}})
    assert slots["brand"] == "cavita"


def test_missing_or_unknown_brand_falls_back_to_the_deployment_default(monkeypatch):
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "cavita")
    assert start_session({})["brand"] == "cavita"
    assert start_session({"session_started_metadata": {"brand": "altro"}})["brand"] == "cavita"


def test_returning_customer_keeps_the_previous_brand(monkeypatch):
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "alleanza")
    assert start_session({"brand": "cavita"})["brand"] == "cavita"


def test_nothing_but_the_brand_survives_into_a_new_session(monkeypatch):
    """A half-filled form, a code or an answer of the last session does not come back."""
    monkeypatch.delenv("ASSISTANT_DEFAULT_BRAND", raising=False)
    slots = start_session({"session_started_metadata": {"brand": "alleanza"},
                           "support_email": "a@example.it", "requested_slot": "support_text"})
    assert slots == {"session_started_metadata": {"brand": "alleanza"}, "brand": "alleanza"}


def test_misconfigured_default_is_an_error_not_a_silent_brand(monkeypatch):
    monkeypatch.setenv("ASSISTANT_DEFAULT_BRAND", "generali")
    with pytest.raises(ValueError, match="ASSISTANT_DEFAULT_BRAND"):
        default_brand()


def test_metadata_wins_over_previous_brand():
    assert brand_from_metadata({"brand": "alleanza"}, fallback="cavita") == "alleanza"
