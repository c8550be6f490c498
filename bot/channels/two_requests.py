"""A message that asks two things gets the first answered and the second offered.

Why: «non mi arriva il codice. e poi come cambio la mail?» is two questions; the classifier
gives one message one intent, so it answered one of them at random or fell back. Here the
message is cut where a person would cut it (a question mark, a full stop, «e poi», «inoltre»,
«un'altra cosa»), each part is read by the same NLU, and when both parts are clear and ask
different things the conversation goes on with the first (the whole message when it was
already read as that) and the second is offered as a button named as on the suggestion
buttons (actions/intent_labels.yml). Small talk around a question («grazie, e poi…») is not
a second request. Forms are left alone: inside a form the message answers its question.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from actions.suggestions import labels

log = logging.getLogger(__name__)

CLEAR = 0.6  # each part must be read at least this surely to count as a request
SURE = 0.8  # a whole message read this surely as a third thing is one request
MIN_PART_WORDS = 3
MAX_WORDS = 60  # beyond this a message is a story, not two questions
OFFER_TEXT = "Mi hai chiesto anche un'altra cosa: ne parliamo subito dopo?"
_CUTS = re.compile(
    r"(?<=[?!.])\s+|\s+(?:e poi|poi|inoltre|e anche|e invece|un'?altra cosa|altra domanda)"
    r"[,:]?\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Plan:
    text: str  # what the conversation goes on with
    offer: dict[str, str]  # the second request's button


def parts(text: str) -> list[str]:
    """The message cut where a person would cut it, without pieces too short to ask."""
    pieces = [p.strip(" ,;") for p in _CUTS.split(text) if p and p.strip(" ,;")]
    return [p for p in pieces if len(p.split()) >= MIN_PART_WORDS]


def _reading(parse: dict[str, Any]) -> tuple[str, float]:
    intent = parse.get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


async def plan(agent: Any, text: str) -> Plan | None:
    """What to do with a message that may ask two things; None when it asks one."""
    if len(text.split()) > MAX_WORDS:
        return None
    pieces = parts(text)
    if len(pieces) != 2:
        return None
    named = labels()
    try:
        whole = _reading(await agent.parse_message(text))
        first = _reading(await agent.parse_message(pieces[0]))
        second = _reading(await agent.parse_message(pieces[1]))
    except Exception:  # the NLU failing here must not cost the message
        log.warning("two requests: a part could not be read", exc_info=True)
        return None
    if (first[0] == second[0] or min(first[1], second[1]) < CLEAR
            or first[0] not in named or second[0] not in named):
        return None
    if whole[0] not in (first[0], second[0]) and whole[1] >= SURE:
        return None  # the whole message says one thing the parts alone do not
    if whole[0] == second[0]:  # the whole was read as the second: offer the first
        first, second = second, first
        pieces = pieces[::-1]
    go_on = text if whole[0] == first[0] else pieces[0]
    return Plan(go_on, {"title": named[second[0]], "payload": f"/{second[0]}"})
