"""A message id seen before is answered from the store, not handled again
(bot/channels/replayed_turns.py)."""

from __future__ import annotations

import asyncio

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.replayed_turns import message_id_of, once_per_message_id, replies_to

BUTTONS = [{"title": "Sì", "payload": "/conferma"}]


def _events():
    return [UserUttered("ciao", message_id="m-1"), BotUttered("Salve!"),
            UserUttered("non mi arriva il codice", message_id="m-2"),
            BotUttered("Controlla lo spam", {"buttons": BUTTONS}), BotUttered("Altro?"),
            UserUttered("grazie", message_id="m-3")]


class _Store:
    def __init__(self, events):
        self.tracker = DialogueStateTracker.from_events("rest:u1", events)

    async def retrieve(self, sender_id):
        return self.tracker


class _Agent:
    def __init__(self, events):
        self.tracker_store = _Store(events)


def _send(metadata, events):
    handled = []

    async def on_new_message(message):
        handled.append(message.message_id)

    collector = CollectingOutputChannel()
    handler = once_per_message_id(on_new_message, agent_of=lambda: _Agent(events))
    asyncio.run(handler(UserMessage("non mi arriva il codice", collector, "rest:u1",
                                    metadata=metadata)))
    return handled, collector.messages


def test_the_replies_of_a_message_are_the_bot_messages_up_to_the_next_one():
    replies = replies_to(_events(), "m-2")
    assert replies == [{"text": "Controlla lo spam", "buttons": BUTTONS}, {"text": "Altro?"}]
    assert replies_to(_events(), "m-9") is None
    assert replies_to(_events(), "m-3") == []  # handled, nothing answered yet


def test_a_repeated_message_id_is_replayed_and_not_handled():
    handled, sent = _send({"message_id": "m-2"}, _events())
    assert handled == []
    assert [m["text"] for m in sent] == ["Controlla lo spam", "Altro?"]
    assert sent[0]["buttons"] == BUTTONS


def test_a_new_message_id_is_handled_and_kept_with_the_message():
    handled, sent = _send({"message_id": "m-4"}, _events())
    assert handled == ["m-4"] and sent == []


def test_without_an_id_every_message_is_handled():
    handled, _ = _send({"brand": "alleanza"}, _events())
    assert len(handled) == 1


def test_ids_must_be_short_strings():
    assert message_id_of({"message_id": "x" * 129}) is None
    assert message_id_of({"message_id": 42}) is None
    assert message_id_of({"message_id": "abc"}) == "abc"
