"""A typed button label, or the number of a shown button, means that button.

Why: people do not always click. On the website they type «sì, invia» under the «Sì,
invia» button, on WhatsApp they answer «2» to a numbered list, in any chat they type
«mybank» under the MyBank button. When the text is short and the newest bot turn of that
conversation showed buttons, a text equal to a button's title (or its payload) or a bare
number in range becomes that button's payload, exactly as if it had been clicked. Every
channel applies this through bot/channels/turn_context.py, which reads the tracker.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from actions.form_cancel import plain

MAX_WORDS = 6  # a button label is short; longer texts are sentences, left to NLU
_NUMBER = re.compile(r"^\s*(?:n\.?\s*|numero\s+)?(\d{1,2})\s*[.)°]?\s*$", re.IGNORECASE)
_NUMBERED_LINE = re.compile(r"(?m)^\s*\d{1,2}[.)]\s")
# Words that say yes to an offer («sì», «certo», «procedi») and that act on it after «ok».
_YES = {"si", "sii", "certo", "certamente", "volentieri", "procedi", "procediamo", "esatto",
        "inviala", "invia", "mandala", "mandalo", "mandamelo", "inviamelo", "apri", "aprila"}
_ACTIONS = {"procedi", "inviala", "invia", "mandala", "mandalo", "mandamelo", "inviamelo",
            "apri", "aprila", "vai", "fallo"}
_POLITE = {"ok", "okay", "grazie", "pure", "dai", "per", "favore", "perfavore", "allora", "va",
           "bene", "me", "lo", "la"}
_REFUSING = re.compile(r"\b(no|non|nn|aspetta|dopo|annulla|lascia|basta)\b")


def normal(text: str) -> str:
    """Lower case, no accents, punctuation as spaces: «Sì, invia!» -> «si invia»."""
    return " ".join(re.sub(r"[^\w]+", " ", plain(text)).split())


def _payload_words(payload: str) -> str:
    """``/conferma`` -> ``conferma``; ``/intent{"sr_kind": "claim"}`` -> ``intent``."""
    return normal(payload.split("{", 1)[0].lstrip("/"))


def button_choice(text: str, buttons: Sequence[Mapping[str, Any]], prompt: str = "") -> str | None:
    """The payload of the button ``text`` names, or None."""
    if not buttons or len(text.split()) > MAX_WORDS:
        return None
    number = _NUMBER.match(text)
    if number:
        # A bare number answers the buttons, unless the prompt has a numbered list of its own.
        index = int(number.group(1))
        if _NUMBERED_LINE.search(prompt) or not 1 <= index <= len(buttons):
            return None
        return str(buttons[index - 1].get("payload") or "") or None
    typed = normal(text)
    if not typed:
        return None
    for button in buttons:
        payload = str(button.get("payload") or "")
        if typed in (normal(str(button.get("title") or "")), _payload_words(payload)):
            return payload or None
    if len(buttons) == 1 and accepts_offer(typed):
        return str(buttons[0].get("payload") or "") or None
    return None


def accepts_offer(typed: str) -> bool:
    """«sì, inviala», «certo», «procedi» under a single offered button take the offer:
    only such words, at least one of them a yes. «ok grazie» only acknowledges the answer,
    anything negated or on hold refuses it, anything else is a sentence for the NLU."""
    words = set(typed.split())
    if not words or _REFUSING.search(typed) or not words <= _YES | _ACTIONS | _POLITE:
        return False  # «si può sospendere…?» is a question that starts like a yes
    return bool(words & (_YES | _ACTIONS))


def shown_buttons(events: Sequence[Any]) -> tuple[list[Mapping[str, Any]], str]:
    """Buttons of the newest bot message with buttons since the last user message."""
    for event in reversed(events):
        name = getattr(event, "type_name", None) or (event.get("event") if isinstance(
            event, Mapping) else None)
        if name == "user":
            break
        if name == "bot":
            data = getattr(event, "data", None) or (event.get("data") if isinstance(
                event, Mapping) else None) or {}
            if data.get("buttons"):
                text = getattr(event, "text", None) or (event.get("text") if isinstance(
                    event, Mapping) else "") or ""
                return list(data["buttons"]), text
    return [], ""
