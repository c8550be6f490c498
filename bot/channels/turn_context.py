"""What the conversation so far says about a new message, read once per message.

Why: a message alone is often not enough. «2» or «sì, invia» means a button shown just
before (bot/channels/typed_buttons.py), and «come lo cambio?» means the subject of the last
answer (bot/nlu/follow_ups.py). Every channel wraps its message handler with
:func:`with_turn_context`: it reads the conversation's tracker once, turns a typed button
into its payload and adds ``context`` to the message metadata: the intents of the last user
turns of this session, newest first, and the form in progress. The tracker is the store's,
so this holds across replicas; a store that is down costs the context, never the message.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping, Sequence

from rasa.core.channels.channel import UserMessage

from bot.channels.typed_buttons import MAX_WORDS as BUTTON_WORDS
from bot.channels.typed_buttons import button_choice, shown_buttons

log = logging.getLogger(__name__)

CONTEXT_WORDS = 25  # longer messages say what they are about
RECENT_TURNS = 3


def _field(event: Any, name: str) -> Any:
    if isinstance(event, Mapping):
        return event.get(name)
    return getattr(event, name, None)


def recent_intents(events: Sequence[Any], turns: int = RECENT_TURNS) -> list[str]:
    """Intents of this session's last ``turns`` user messages, newest first."""
    found: list[str] = []
    for event in reversed(events):
        kind = _field(event, "type_name") or _field(event, "event")
        if kind == "session_started":
            break
        if kind != "user":
            continue
        intent = _field(event, "intent") or (_field(event, "parse_data") or {}).get("intent")
        found.append(str((intent or {}).get("name") or ""))
        if len(found) >= turns:
            break
    return found


def active_form(tracker: Any) -> str | None:
    name = getattr(tracker, "active_loop_name", None)
    return str(name) if name else None


async def read_turn(agent: Any, sender_id: str, text: str) -> tuple[str, dict[str, Any] | None]:
    """``text`` (or the payload of the button it names) and the context for the NLU."""
    if not text or text.startswith("/") or len(text.split()) > CONTEXT_WORDS:
        return text, None
    store = getattr(agent, "tracker_store", None)
    if store is None:
        return text, None
    try:
        tracker = await store.retrieve(sender_id)
    except Exception:  # the store being down must not cost the message
        log.warning("turn context: tracker of a conversation unavailable", exc_info=True)
        return text, None
    if tracker is None:
        return text, None
    events = list(tracker.events)
    if len(text.split()) <= BUTTON_WORDS:
        buttons, prompt = shown_buttons(events)
        payload = button_choice(text, buttons, prompt)
        if payload:
            return payload, None
    context = {"recent_intents": recent_intents(events), "form": active_form(tracker)}
    return text, context


def _agent() -> Any:
    from sanic import Sanic

    try:
        return getattr(Sanic.get_app().ctx, "agent", None)
    except Exception:  # no running app (unit tests of a channel alone)
        return None


def with_turn_context(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    agent_of: Callable[[], Any] = _agent,
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wrap a channel's message handler: typed labels act as clicks, context goes to the NLU."""

    async def handler(message: UserMessage) -> Any:
        agent = agent_of()
        if agent is not None and isinstance(message.text, str):
            message.text, context = await read_turn(agent, message.sender_id, message.text)
            if context is not None:
                message.metadata = {**(message.metadata or {}), "context": context}
        return await on_new_message(message)

    return handler
