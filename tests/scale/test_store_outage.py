"""The tracker store through a database outage: the conversation goes on from the process's
copy, and the turns answered meanwhile are written once the database is back."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered

from bot.tracker_store import RedactingSQLTrackerStore


def texts(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]


@pytest.fixture()
def stores(tmp_path, domain):
    def make():
        return RedactingSQLTrackerStore(domain=domain, dialect="sqlite",
                                        db=str(tmp_path / "t.sqlite3"), sweep_on_start=False)
    return make


def test_turns_during_an_outage_are_kept_and_written_afterwards(stores, monkeypatch):
    store = stores()
    safe = FailSafeTrackerStore(store)  # what Rasa's agent wraps every store in

    async def turn(sender, text):
        tracker = await safe.get_or_create_tracker(sender)
        tracker.update(UserUttered(text))
        tracker.update(SlotSet("brand", "cavita"))
        tracker.update(BotUttered("risposta"))
        tracker.update(ActionExecuted("action_listen"))
        await safe.save(tracker)
        return tracker

    async def scenario():
        await turn("rest:a", "primo")
        await turn("rest:b", "altro")

        def away(*args, **kwargs):
            raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError())

        with monkeypatch.context() as patch:
            patch.setattr(store, "session_scope", away)
            during = await turn("rest:a", "durante")
            assert texts(during) == ["primo", "durante"]  # went on, not a new conversation
            assert during.get_slot("brand") == "cavita"
            assert "rest:a" in store._unsaved
        # The database is back: the next turn of any conversation writes the kept one first.
        await turn("rest:b", "dopo")
        assert not store._unsaved
        again = await stores().retrieve("rest:a")
        assert texts(again) == ["primo", "durante"]
        await turn("rest:a", "ancora")
        assert texts(await stores().retrieve("rest:a")) == ["primo", "durante", "ancora"]

    asyncio.run(scenario())


def test_an_unknown_conversation_during_an_outage_fails_to_rasas_fallback(stores, monkeypatch):
    store = stores()

    def away(*args, **kwargs):
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError())

    monkeypatch.setattr(store, "session_scope", away)
    with pytest.raises(sa.exc.OperationalError):
        asyncio.run(store.retrieve("rest:never-seen"))
