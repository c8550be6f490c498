"""What a user's text must look like before the NLU and the tracker see it.

Why: every channel accepts text from the Internet. A huge message costs the NLU seconds and
fills the tracker store; lone surrogates cannot even be encoded to UTF-8 (the store or a
JSON encoder fails on them) and control characters only hide text from people reading the
conversation later. Applied once, for every channel, by ``with_turn_context``
(bot/channels/turn_context.py): invalid characters are removed, and a text still longer
than the limit is not processed at all: the user is told the limit instead, on the
channel the message came from.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

KEPT_CONTROLS = frozenset("\n\t")
_REMOVED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


def too_long_reply(limit: int) -> str:
    """The Italian answer to a message over the limit (it says the limit)."""
    return (f"Il messaggio è troppo lungo: posso leggere al massimo {limit} caratteri. "
            "Puoi riscriverlo in breve, magari in più messaggi?")


def clean(text: str) -> str:
    """``text`` without lone surrogates and control characters (newline and tab stay)."""
    if text.isprintable():  # the usual case, checked in C
        return text
    return "".join(
        char for char in text
        if char in KEPT_CONTROLS or unicodedata.category(char) not in _REMOVED_CATEGORIES
    )


@dataclass(frozen=True)
class Checked:
    """A message's text as the NLU may see it, or why it must not be processed."""

    text: str
    refusal: str | None = None  # the reply to send instead of processing the message

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def check(text: str, limit: int) -> Checked:
    """Clean ``text``; refuse it when, cleaned and trimmed, it is over ``limit`` characters."""
    cleaned = clean(text).strip()
    if len(cleaned) > limit:
        return Checked(text="", refusal=too_long_reply(limit))
    return Checked(text=cleaned)
