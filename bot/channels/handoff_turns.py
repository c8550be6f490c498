"""The handoff's part of every customer message, before the assistant reads it.

Why in the channels' common wrapper (bot/channels/turn_context.py): whether a conversation
is waiting for or held by an operator is known from the queue (handoff/queue.py), for every
channel and replica alike, and a message in that state must reach the operator whole: no
typed-button reading, no splitting of two requests, no assistant reply. So:

* **open request** (waiting or taken): the message goes to Rasa unchanged; the tracker is
  paused, so Rasa only logs it (the operator's console reads it from there). While waiting,
  «annulla» / «esci dalla coda» / «non importa» (or the «Esci dalla coda» button) leaves the
  queue and the assistant answers again; any other message gets the position in the queue.
* **no open request**: an angry or insistent message (bot/channels/handoff_triggers.py)
  outside a form becomes ``/richiesta_operatore`` with ``metadata.handoff_reason = "anger"``
  and the customer's words in ``metadata.handoff_said`` (the transcript shows those), so
  action_richiedi_operatore offers a person.

A queue that cannot be read costs the handoff, never the message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from rasa.core.channels.channel import UserMessage

from bot.channels import handoff_live
from bot.channels.handoff_triggers import plain, upset
from handoff.queue import HandoffQueue, HandoffRequest
from handoff.settings import HandoffSettings
from handoff.states import Reason, Status
from handoff.transcript import SAID_KEY

log = logging.getLogger(__name__)

HANDOFF_INTENT = "/richiesta_operatore"
REASON_KEY = "handoff_reason"
LEAVE_PHRASES = frozenset({
    "annulla", "esci", "esci dalla coda", "esco dalla coda", "lascia la coda", "non importa",
    "lascia stare", "lascia perdere", "non voglio piu aspettare", "non aspetto piu",
    "annulla la richiesta", "annullare", "stop",
})
PREVIOUS_TEXTS = 2


@lru_cache(maxsize=4)
def _queue(url: str) -> HandoffQueue:
    return HandoffQueue(url)


def queue() -> HandoffQueue:
    """This process's queue, on the database the environment names."""
    return _queue(HandoffSettings.from_env().database_url)


def wants_to_leave(text: str) -> bool:
    return plain(text) in LEAVE_PHRASES


async def open_request(conversation: str) -> HandoffRequest | None:
    try:
        return await asyncio.to_thread(queue().active, conversation)
    except Exception:
        log.warning("handoff queue unavailable: the message goes on as usual", exc_info=True)
        return None


async def during_handoff(agent: Any, message: UserMessage, request: HandoffRequest,
                         on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Any:
    """A message of a conversation waiting for, or held by, an operator."""
    conversation = message.sender_id
    text = message.text or ""
    if request.status is Status.WAITING and wants_to_leave(text):
        if await asyncio.to_thread(queue().leave, conversation):
            log.info("handoff: the customer left the queue (%s)", request.channel)
            sent = await handoff_live.resume(agent, conversation, handoff_live.LEFT_TEXT)
            if not sent.delivered:  # a channel with no outbound route (REST): answer here
                await message.output_channel.send_text_message(conversation,
                                                               handoff_live.LEFT_TEXT)
            return None
    await handoff_live.ensure_paused(agent, conversation)
    result = await on_new_message(message)  # logged for the operator; no prediction
    if request.status is Status.WAITING:
        position = await asyncio.to_thread(queue().position_of, conversation)
        if position:
            await handoff_live.tell(agent, conversation,
                                    handoff_live.WAITING_TEXT.format(position=position),
                                    state="waiting")
    return result


async def previous_texts(agent: Any, conversation: str) -> tuple[list[str], bool]:
    """The customer's last texts (newest first) and whether a form is running."""
    try:
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is None:
            return [], False
        texts = [str(getattr(e, "text", "") or "") for e in reversed(list(tracker.events))
                 if getattr(e, "type_name", "") == "user"][:PREVIOUS_TEXTS]
        return texts, bool(getattr(tracker, "active_loop_name", None))
    except Exception:  # no history: no insistence, and no trigger inside an unknown form
        return [], True


async def mark_if_upset(agent: Any, message: UserMessage) -> None:
    """Turn an angry or insistent message into a request for a person (module docstring)."""
    text = message.text
    if not isinstance(text, str) or not text or text.startswith("/"):
        return
    previous, in_form = await previous_texts(agent, message.sender_id)
    if in_form or not upset(text, previous):
        return
    log.info("handoff: anger or insistence on %s: a person is offered", message.input_channel)
    message.metadata = {**(message.metadata or {}), REASON_KEY: Reason.ANGER.value,
                        SAID_KEY: text}
    message.text = HANDOFF_INTENT


async def handle(agent: Any, message: UserMessage,
                 on_new_message: Callable[[UserMessage], Awaitable[Any]]
                 ) -> tuple[bool, Any]:
    """(True, result) when the handoff took care of the message; (False, None) otherwise
    (the message may have been marked as upset, and goes on as usual)."""
    if agent is None or not isinstance(message.text, str):
        return False, None
    request = await open_request(message.sender_id)
    if request is not None:
        return True, await during_handoff(agent, message, request, on_new_message)
    await mark_if_upset(agent, message)
    return False, None
