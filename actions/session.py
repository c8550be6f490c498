"""Session start: pick the insurer whose answers this conversation gets."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import handoff_open
from identity.brands import brand_from_metadata


class ActionSessionStart(Action):
    """Set `brand` from the first message's metadata (or the deployment default); nothing
    else survives into the new session."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> List[EventType]:
        metadata = tracker.get_slot("session_started_metadata")
        # A channel that names the brand wins; otherwise a returning customer keeps the
        # brand of the previous session; otherwise the deployment default applies. Nothing
        # else is carried over: a new session starts with no half-filled form, code or
        # answer of the previous one.
        brand = brand_from_metadata(metadata, fallback=tracker.get_slot("brand"))
        events: List[EventType] = [
            SessionStarted(),
            SlotSet("session_started_metadata", metadata),
            SlotSet("brand", brand),
            ActionExecuted("action_listen"),
        ]
        # A new session resets Rasa's pause: a customer still waiting for (or talking with)
        # an operator keeps the assistant silent (actions/handoff.py, docs/handoff.md).
        if handoff_open(tracker.sender_id):
            events.append(ConversationPaused())
        return events
