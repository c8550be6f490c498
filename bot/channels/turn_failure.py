"""Which channel a turn came from, for the error metrics; a failed turn logged without data.

bot/channels/turn_context.py runs every channel's turn through :func:`handled`: it names the
turn's channel for ``assistant_errors_total`` (bot/ops_metrics.py counts error log records
per channel) and logs a turn that fails with the exception's type only (Rasa's own line
holds the customer's text). The exception then goes on to the channel, whose own answer
stands: the staff channel's 500, WhatsApp's apology, Rasa's REST list of what was said.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import UserMessage

log = logging.getLogger(__name__)


async def handled(on_new_message: Callable[[UserMessage], Awaitable[Any]],
                  message: UserMessage) -> Any:
    from bot.ops_metrics import current_channel

    current_channel.set(str(message.input_channel or "-"))
    try:
        return await on_new_message(message)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("turn failed on %s: %s", message.input_channel, type(exc).__name__)
        raise
