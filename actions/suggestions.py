"""When the classifier is unsure, offer its likeliest readings as buttons.

Why: «riformula» leaves the customer guessing what we understand, while the right intent
was often ranked second at 0.3. The two or three likeliest readings, named as a customer
would name them (actions/intent_labels.yml), are one click away; nothing plausible gets the
plain «riformula» (utter_default); a second miss in a row also offers a person.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List

import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

LABELS_FILE = Path(__file__).with_name("intent_labels.yml")
MIN_CONFIDENCE = 0.08  # below this a reading is noise, not a suggestion
MAX_SUGGESTIONS = 3
FALLBACK = "nlu_fallback"


@lru_cache(maxsize=1)
def labels() -> Dict[str, str]:
    return {str(k): str(v) for k, v in yaml.safe_load(LABELS_FILE.read_text("utf-8")).items()}


def suggestions(ranking: List[Dict[str, Any]]) -> List[Dict[str, str]]:
    """Buttons for the likeliest readings that a customer can be offered."""
    known = labels()
    picks = [r["name"] for r in ranking
             if r.get("name") in known and float(r.get("confidence") or 0.0) >= MIN_CONFIDENCE]
    return [{"title": known[name], "payload": f"/{name}"} for name in picks[:MAX_SUGGESTIONS]]


def missed_before(tracker: Tracker) -> bool:
    """Whether the user message before this one was not understood either."""
    users = [e for e in tracker.events if e.get("event") == "user"]
    if len(users) < 2:
        return False
    return ((users[-2].get("parse_data") or {}).get("intent") or {}).get("name") == FALLBACK


class ActionSuggerisciIntenti(Action):
    def name(self) -> str:
        return "action_suggerisci_intenti"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        buttons = suggestions(list((tracker.latest_message or {}).get("intent_ranking") or []))
        if buttons:
            dispatcher.utter_message(response="utter_suggerimenti", buttons=buttons)
        else:
            dispatcher.utter_message(response="utter_default")
        if missed_before(tracker):
            dispatcher.utter_message(response="utter_offri_operatore")
        return []
