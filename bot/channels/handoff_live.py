"""A conversation held by an operator, in the Rasa process: the tracker and the customer.

Why through the tracker store: it is what every Rasa replica shares, so the pause, the
operator's messages and the handback written by one replica are what the others read. The
assistant is paused with Rasa's own events: ``ConversationPaused`` (written by
actions/handoff.py when the conversation joins the queue) makes the MessageProcessor log the
customer's messages without predicting anything; ``ConversationResumed`` (here, on handback,
close or leave) lets it answer again. Every write happens under the conversation's lock
from Rasa's lock store (Redis with several replicas), so it never interleaves with a turn.

An operator's message is a ``BotUttered`` with ``metadata.handoff = "operator"``; notices
of the handoff itself are ``"system"`` (handoff/transcript.py). Both are written to the
tracker first (the transcript, and the widget's replay after a reconnect), then sent
(bot/channels/outbound.py). WhatsApp only accepts free-form messages within 24 hours of
the customer's last one (Meta's customer-service window): past that, :func:`operator_says`
refuses and the console tells the operator.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
)

from bot.channels import outbound
from handoff.transcript import HANDOFF_KEY, OPERATOR, SYSTEM, last_customer_message_at

log = logging.getLogger(__name__)

WHATSAPP_WINDOW_SECONDS = 24 * 60 * 60

TAKEN_TEXT = ("Un operatore dell'assistenza ha preso in carico la conversazione: da ora ti "
              "risponde una persona.")
HANDBACK_TEXT = ("Sono di nuovo l'assistente virtuale: l'operatore mi ha ripassato la "
                 "conversazione. Posso aiutarti con qualcos'altro?")
CLOSED_TEXT = ("L'operatore ha chiuso la conversazione. Grazie per averci scritto! Se ti serve "
               "altro, scrivimi pure: ti risponde di nuovo l'assistente virtuale.")
LEFT_TEXT = ("Sei uscito dalla coda: nessun operatore ti contatterà. Sono di nuovo "
             "l'assistente virtuale, come posso aiutarti?")
WAITING_TEXT = ("Ho aggiunto il messaggio alla conversazione per l'operatore. Sei in "
                "posizione {position} nella coda. Per uscire dalla coda scrivi «annulla».")


@dataclass(frozen=True)
class Sent:
    """What became of a message to the customer: kept in the tracker, and sent or not."""

    delivered: bool
    ts: float
    refused: str | None = None  # "whatsapp_window": not sent, and not kept either


def _lock(agent: Any, conversation: str) -> Any:
    lock_store = getattr(agent, "lock_store", None)
    return lock_store.lock(conversation) if lock_store is not None else nullcontext()


async def append(agent: Any, conversation: str, events: Iterable[Event]) -> Any:
    """Add ``events`` to the conversation's tracker, under its lock; the tracker back."""
    store = agent.tracker_store
    async with _lock(agent, conversation):
        tracker = await store.get_or_create_tracker(conversation)
        for event in events:
            tracker.update(event)
        await store.save(tracker)
    return tracker


async def event_dicts(agent: Any, conversation: str) -> list[dict[str, Any]]:
    """The conversation's events as dicts (the transcript's input); [] when unknown."""
    tracker = await agent.tracker_store.retrieve(conversation)
    return [e.as_dict() for e in tracker.events] if tracker is not None else []


def notice(text: str, ts: float | None = None) -> BotUttered:
    return BotUttered(text, metadata={HANDOFF_KEY: SYSTEM},
                      timestamp=time.time() if ts is None else ts)


def window_closed(events: list[Mapping[str, Any]], now: float) -> bool:
    """WhatsApp: more than 24 hours since the customer's last message (or none at all)."""
    last = last_customer_message_at(events)
    return last is None or now - last > WHATSAPP_WINDOW_SECONDS


async def tell(agent: Any, conversation: str, text: str, state: str = "held") -> Sent:
    """A handoff notice: kept in the tracker, then sent to the customer's channel."""
    event = notice(text)
    await append(agent, conversation, [event])
    return Sent(await outbound.deliver(conversation, text, event.timestamp, SYSTEM, state),
                event.timestamp)


async def operator_says(agent: Any, conversation: str, operator_id: str, text: str,
                        now: Callable[[], float] = time.time) -> Sent:
    """The operator's message: refused outside WhatsApp's window, else kept and sent."""
    if conversation.startswith("whatsapp:"):
        if window_closed(await event_dicts(agent, conversation), now()):
            return Sent(False, now(), refused="whatsapp_window")
    event = BotUttered(text, metadata={HANDOFF_KEY: OPERATOR, "operator_id": operator_id},
                       timestamp=now())
    await append(agent, conversation, [event])
    return Sent(await outbound.deliver(conversation, text, event.timestamp, OPERATOR),
                event.timestamp)


async def resume(agent: Any, conversation: str, text: str) -> Sent:
    """The assistant answers again: resumed, the notice, and a listen so the next message
    starts a fresh turn for the policies."""
    event = notice(text)
    await append(agent, conversation,
                 [ConversationResumed(), event, ActionExecuted("action_listen")])
    return Sent(await outbound.deliver(conversation, text, event.timestamp, SYSTEM,
                                       "assistant"), event.timestamp)


async def ensure_paused(agent: Any, conversation: str) -> None:
    """Pause the assistant when the queue says a request is open but the tracker does not
    (a session that restarted while the customer waited)."""
    async with _lock(agent, conversation):
        tracker = await agent.tracker_store.retrieve(conversation)
        if tracker is not None and not tracker.is_paused():
            tracker.update(ConversationPaused())
            await agent.tracker_store.save(tracker)
            log.info("handoff: tracker paused again for an open request")
