"""Messages to a customer that no turn of theirs asked for: an operator's, a handback notice.

Why a registry: Rasa sends replies through the output channel of the message being
answered, but an operator writes when the customer did not. Each channel that can reach a
customer on its own registers, when its blueprint is built, how to send to a conversation of
its namespace: the widget (``web:``) emits ``bot_uttered`` to the conversation's socket.io
room (through Redis to every replica when ``REDIS_URL`` is set), WhatsApp (``whatsapp:``)
calls Twilio's Messages API. The operators' console and the handoff notices then need to
know only the conversation id. A namespace nobody registered (``rest:``, ``staff:``) cannot
be reached: :func:`deliver` answers False and the message stays in the transcript.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

# (conversation id, text, timestamp of its BotUttered event, who writes, handoff state)
# -> delivered? ``who`` is "operator" for an operator's message (the widget labels it,
# WhatsApp prefixes it), "system" for the handoff's own notices, which read as the
# assistant's. ``state`` ("waiting", "held", "assistant") tells the widget who answers next.
Deliver = Callable[[str, str, float, str, str], Awaitable[bool]]

_routes: dict[str, Deliver] = {}


def register(prefix: str, deliver: Deliver) -> None:
    """``prefix`` is the channel's namespace with its colon (``web:``, ``whatsapp:``)."""
    _routes[prefix] = deliver


def unregister(prefix: str) -> None:
    _routes.pop(prefix, None)


def reachable(conversation_id: str) -> bool:
    return any(conversation_id.startswith(p) for p in _routes)


async def deliver(conversation_id: str, text: str, ts: float, who: str = "system",
                  state: str = "held") -> bool:
    """Send ``text`` to the customer of ``conversation_id``; False when it did not go out."""
    route = next((d for p, d in _routes.items() if conversation_id.startswith(p)), None)
    if route is None:
        log.warning("no outbound route for a %s conversation", conversation_id.split(":")[0])
        return False
    try:
        return await route(conversation_id, text, ts, who, state)
    except Exception:  # a channel's failure is the operator's to see, not a crash
        log.exception("outbound delivery failed (%s)", conversation_id.split(":")[0])
        return False
