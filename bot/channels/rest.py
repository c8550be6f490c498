"""Rasa's REST channel, with typed button labels and numbers read as clicks.

Same URL and body as Rasa's own (``POST /webhooks/rest/webhook``); only the message
handler is wrapped (bot/channels/turn_context.py), as on every other channel.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput as RasaRestInput
from sanic import Blueprint

from bot.channels.turn_context import with_turn_context


class RestInput(RasaRestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        return super().blueprint(with_turn_context(on_new_message))
