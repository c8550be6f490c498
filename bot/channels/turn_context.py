"""What the conversation so far says about a new message, read once per message.

Why: a message alone is often not enough. «2» or «sì, invia» means a button shown just
before (bot/channels/typed_buttons.py), and «come lo cambio?» means the subject of the last
answer (bot/nlu/follow_ups.py). Every channel wraps its message handler with
:func:`with_turn_context`: it reads the conversation's tracker once, turns a typed button
into its payload and adds ``context`` to the message metadata: the intents of the last user
turns of this session, newest first, and the form in progress. The tracker is the store's,
so this holds across replicas; a store that is down costs the context, never the message.
A message that asks two things outside a form goes on with the first and offers the second
as a button, kept in the tracker like any other (bot/channels/two_requests.py).

The wrapper is also where every channel's text is checked (bot/channels/input_guard.py):
invalid characters are removed before anything reads the text, and a message longer than
``MAX_MESSAGE_CHARS`` (bot/settings.py) is answered with the limit, on its own output
channel, and goes no further: neither the NLU nor the tracker ever sees it.

Then the live handoff (bot/channels/handoff_turns.py): a conversation waiting for or held
by an operator gets its message to the operator whole (none of the readings above), and an
angry or insistent message becomes a request for a person.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Mapping, Sequence

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered

from bot.channels import handoff_turns, input_guard, turn_failure, two_requests
from bot.channels.typed_buttons import MAX_WORDS as BUTTON_WORDS
from bot.channels.typed_buttons import button_choice, shown_buttons
from bot.settings import current as current_settings

log = logging.getLogger(__name__)

CONTEXT_WORDS = 25  # longer messages say what they are about
RECENT_TURNS = 3


def event_field(event: Any, name: str) -> Any:
    """A field of a tracker event, whether Rasa's event object or its dict form."""
    if isinstance(event, Mapping):
        return event.get(name)
    return getattr(event, name, None)


def _loop_name(event: Any) -> str | None:
    name = event_field(event, "name")
    return str(name) if name else None


def recent_intents(events: Sequence[Any], turns: int = RECENT_TURNS) -> list[str]:
    """Intents of this session's last ``turns`` user messages, newest first.

    Answers given inside a form (a code, an e-mail) are not turns of the conversation's
    subject: «e quelle in archivio?» after the policies shown once the code was verified
    still follows the policies."""
    said: list[str] = []
    form: str | None = None
    for event in events:
        kind = event_field(event, "type_name") or event_field(event, "event")
        if kind == "session_started":
            said, form = [], None
        elif kind == "active_loop":
            form = _loop_name(event)
        elif kind == "user" and form is None:
            intent = (event_field(event, "intent")
                      or (event_field(event, "parse_data") or {}).get("intent"))
            said.append(str((intent or {}).get("name") or ""))
    return said[::-1][:turns]


def last_answers(events: Sequence[Any]) -> list[str]:
    """Names of the responses the assistant gave since the customer's last message: a
    refusal said inside a form («pagata con SDD») is a subject of its own for what follows."""
    said: list[str] = []
    for event in reversed(events):
        kind = event_field(event, "type_name") or event_field(event, "event")
        if kind == "user":
            break
        if kind == "bot":
            name = (event_field(event, "metadata") or {}).get("utter_action")
            if name:
                said.append(str(name))
    return said[::-1]


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
    context = {"recent_intents": recent_intents(events), "form": active_form(tracker),
               "last_answers": last_answers(events)}
    return text, context


async def _in_form(agent: Any, sender_id: str, context: dict[str, Any] | None) -> bool:
    if context is not None:
        return bool(context.get("form"))
    try:  # a long message has no context: the form is looked up on its own
        tracker = await agent.tracker_store.retrieve(sender_id)
    except Exception:
        return True  # unknown: leave the message whole
    return tracker is not None and active_form(tracker) is not None


async def _two_requests(agent: Any, message: UserMessage,
                        context: dict[str, Any] | None) -> dict[str, str] | None:
    """The second request's button, the message's text cut to the first (two_requests)."""
    text = message.text or ""
    if text.startswith("/") or len(two_requests.parts(text)) != 2:
        return None
    if await _in_form(agent, message.sender_id, context):
        return None
    plan = await two_requests.plan(agent, text)
    if plan is None:
        return None
    message.text = plan.text
    return plan.offer


async def _offer(agent: Any, message: UserMessage, button: dict[str, str]) -> None:
    """Offer the second request, kept in the tracker so a typed «sì» or «1» is that button."""
    try:
        tracker = await agent.tracker_store.retrieve(message.sender_id)
        if tracker is not None:
            tracker.update(BotUttered(two_requests.OFFER_TEXT, {"buttons": [button]}))
            await agent.tracker_store.save(tracker)
    except Exception:  # the offer is still made; only a typed answer to it is lost
        log.warning("two requests: the offer could not be kept", exc_info=True)
    await message.output_channel.send_text_with_buttons(
        message.sender_id, two_requests.OFFER_TEXT, [button])


def process_agent() -> Any:
    """Rasa's agent, when this process runs exactly one Sanic app (as under rasa run)."""
    from sanic import Sanic

    try:
        return getattr(Sanic.get_app().ctx, "agent", None)
    except Exception:  # no running app (unit tests of a channel alone)
        return None


def with_turn_context(
    on_new_message: Callable[[UserMessage], Awaitable[Any]],
    agent_of: Callable[[], Any] = process_agent,
    max_chars: int | None = None,
) -> Callable[[UserMessage], Awaitable[Any]]:
    """Wrap a channel's message handler: the text checked, typed labels act as clicks,
    context goes to the NLU. ``max_chars`` defaults to the process's ``MAX_MESSAGE_CHARS``."""
    limit = current_settings().max_message_chars if max_chars is None else max_chars

    async def handler(message: UserMessage) -> Any:
        if isinstance(message.text, str):
            checked = input_guard.check(message.text, limit)
            if checked.refusal is not None:
                log.info("message of %d characters refused on %s (limit %d)",
                         len(message.text), message.input_channel, limit)
                await message.output_channel.send_text_message(
                    message.sender_id, checked.refusal)
                return None
            message.text = checked.text
        agent = agent_of()
        handled, result = await handoff_turns.handle(agent, message, on_new_message)
        if handled:
            return result
        second = None
        if agent is not None and isinstance(message.text, str) and not message.text.startswith(
                handoff_turns.HANDOFF_INTENT):
            message.text, context = await read_turn(agent, message.sender_id, message.text)
            if context is not None:
                message.metadata = {**(message.metadata or {}), "context": context}
            second = await _two_requests(agent, message, context)
        result = await turn_failure.handled(on_new_message, message)  # metrics per channel
        if second is not None:
            await _offer(agent, message, second)
        return result

    return handler
