"""Every channel's text is checked before the NLU and the tracker see it
(bot/channels/input_guard.py, applied by with_turn_context)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

import bot.settings
from bot.channels.input_guard import check, clean, too_long_reply
from bot.channels.turn_context import with_turn_context


def test_invalid_characters_are_removed_and_the_rest_kept() -> None:
    text = "Ciao\x00, è\ud800 la mia\x1b[31m polizza\u200b 🙂\n\tgrazie\x7f\r"
    assert clean(text) == "Ciao, è la mia[31m polizza\u200b 🙂\n\tgrazie"
    clean(text).encode("utf-8")  # no lone surrogate left: the tracker store can save it
    assert clean("perché no? «sì»") == "perché no? «sì»"


def test_the_limit_is_on_the_cleaned_text_and_the_reply_says_it() -> None:
    assert check("a" * 1000, 1000).accepted
    assert check("  " + "a" * 1000 + "\x00\x00  ", 1000).text == "a" * 1000
    refused = check("a" * 1001, 1000)
    assert not refused.accepted and refused.text == ""
    assert refused.refusal == too_long_reply(1000)
    assert refused.refusal.startswith("Il messaggio è troppo lungo: ") and "1000" in refused.refusal


class _Store:
    def __init__(self) -> None:
        self.read: list[str] = []

    async def retrieve(self, sender_id: str) -> None:
        self.read.append(sender_id)


class _Agent:
    def __init__(self) -> None:
        self.tracker_store = _Store()


def _turn(text: str, **kwargs) -> tuple[list[str], list[dict], _Agent]:
    processed: list[str] = []
    agent = _Agent()

    async def on_new_message(message: UserMessage) -> None:
        processed.append(message.text)

    handler = with_turn_context(on_new_message, agent_of=lambda: agent, **kwargs)
    output = CollectingOutputChannel()
    asyncio.run(handler(UserMessage(text, output, "rest:u1", input_channel="rest")))
    return processed, output.messages, agent


def test_a_long_message_is_answered_on_its_channel_and_goes_no_further() -> None:
    processed, replies, agent = _turn("parola " * 200)
    assert processed == []  # never reaches the NLU
    assert agent.tracker_store.read == []  # nor the tracker
    assert [r["text"] for r in replies] == [too_long_reply(1000)]
    assert replies[0]["recipient_id"] == "rest:u1"


def test_control_characters_never_reach_the_nlu() -> None:
    processed, replies, _ = _turn("come\x00 pago\ud83d la rata?\x07")
    assert processed == ["come pago la rata?"] and replies == []


def test_the_limit_comes_from_max_message_chars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "20")
    bot.settings.reset()
    processed, replies, _ = _turn("a" * 21)
    assert processed == [] and "20 caratteri" in replies[0]["text"]
    assert _turn("a" * 20)[0] == ["a" * 20]
    assert _turn("a" * 21, max_chars=30)[0] == ["a" * 21]
