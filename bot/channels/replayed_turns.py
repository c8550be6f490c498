"""A message sent twice with the same ``message_id`` is answered once and replayed after.

Why: with several replicas behind HAProxy, a replica killed after it saved a turn but
before its answer left is seen by HAProxy as an empty response, and HAProxy sends the
request again to another replica (``retry-on empty-response``). Clients that retry on a
network error do the same. Without an id that would be a second turn: the customer's
message twice in the conversation, a form asked twice. A client that names its message
(``message_id`` in the REST body) gets, for a repeat, the answer the first delivery
produced, read from the tracker store that every replica shares; nothing is handled again.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping, Sequence

from rasa.core.channels.channel import UserMessage

from bot.channels.turn_context import event_field

log = logging.getLogger(__name__)

MESSAGE_ID_KEY = "message_id"
MAX_ID_CHARS = 128
_REPLAYED_DATA = ("buttons", "custom", "image", "attachment", "elements", "quick_replies")


def replies_to(events: Sequence[Any], message_id: str) -> list[dict[str, Any]] | None:
    """The assistant's messages that answered the user message ``message_id`` (None: that
    message was never handled)."""
    replies: list[dict[str, Any]] | None = None
    for event in events:
        kind = event_field(event, "type_name") or event_field(event, "event")
        if kind == "user":
            if replies is not None:
                break
            if event_field(event, "message_id") == message_id:
                replies = []
        elif kind == "bot" and replies is not None:
            data = event_field(event, "data") or {}
            reply: dict[str, Any] = {"text": event_field(event, "text")}
            reply.update({k: data[k] for k in _REPLAYED_DATA if data.get(k)})
            replies.append({k: v for k, v in reply.items() if v is not None})
    return replies


def message_id_of(metadata: Mapping[str, Any] | None) -> str | None:
    value = (metadata or {}).get(MESSAGE_ID_KEY)
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_CHARS:
        return value
    return None


def once_per_message_id(
    on_new_message: Callable[[UserMessage], Awaitable[Any]], agent_of: Callable[[], Any]
) -> Callable[[UserMessage], Awaitable[Any]]:
    """``on_new_message`` that replays instead of handling a message id seen before."""

    async def handler(message: UserMessage) -> Any:
        message_id = message_id_of(message.metadata)
        store = getattr(agent_of(), "tracker_store", None)
        if message_id is None or store is None:
            return await on_new_message(message)
        try:
            tracker = await store.retrieve(message.sender_id)
        except Exception:  # the store being down must not cost the message
            log.warning("replayed turns: tracker unavailable", exc_info=True)
            tracker = None
        replies = replies_to(list(tracker.events), message_id) if tracker else None
        if replies is not None:
            log.info("message id seen before: its answer replayed, not handled again")
            for reply in replies:
                await message.output_channel.send_response(message.sender_id, reply)
            return None
        message.message_id = message_id  # stored with the user event, for the next repeat
        return await on_new_message(message)

    return handler
