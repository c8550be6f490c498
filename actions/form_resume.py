"""«annulla» after the form let go (rule path) and «riprendi»: the answers come back.

Why: people write «lascia stare» to check something (a document, the policy number) and
come back. Only answers that passed validation are kept; confirmations and codes are
never kept (a resumed payment asks for a fresh OTP). The saved answers are re-validated
when the form is activated again (Rasa validates pre-filled slots), so a policy that
changed meanwhile is caught. A form about personal data resumes only for a conversation
that may still see that customer's data (same check as every other action).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agency_requests import reset_events as reset_agency_request
from actions.form_cancel import RESUMABLE_SLOTS, SUSPENDED_SLOT, cancel_message, saved_answers
from actions.guard import form_customer
from actions.payments import reset_events as reset_payment
from actions.support import reset_form as reset_support

RESUME_SLOT = "modulo_da_riprendere"
NOTHING = "nessuno"
PERSONAL_FORMS = ("service_request_form", "payment_form")


def last_form(tracker: Tracker) -> str | None:
    """The form that was active last (the cancel rule has just deactivated it)."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "active_loop" and event.get("name") in RESUMABLE_SLOTS:
            return event["name"]
    return _form_from_slots(tracker)


def _form_from_slots(tracker: Tracker) -> str | None:
    """Fallback when the events are not at hand: the form whose own slots are filled."""
    if any(tracker.get_slot(s) for s in RESUMABLE_SLOTS["support_form"]):
        return "support_form"
    if tracker.get_slot("sr_kind") or tracker.get_slot("sr_start"):
        return "service_request_form"
    if tracker.get_slot("pay_installments") or tracker.get_slot("pay_start"):
        return "payment_form"
    return None


def clear_all_forms() -> List[EventType]:
    return (
        reset_support()
        + reset_agency_request()
        + reset_payment()
        + [SlotSet("step_up_code", None), SlotSet("step_up_required", False)]
        + [SlotSet("step_up_pending_action", None)]
    )


class ActionAnnullaModulo(Action):
    """«annulla» / «lascia stare» inside any form: stop it, keep its answers for «riprendi»."""

    def name(self) -> str:
        return "action_annulla_modulo"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        saved = saved_answers(tracker, last_form(tracker))
        cancel_message(dispatcher, saved)
        return clear_all_forms() + [SlotSet(SUSPENDED_SLOT, saved)]


def suspended(tracker: Tracker) -> Dict[str, Any] | None:
    raw = tracker.get_slot(SUSPENDED_SLOT)
    try:
        state = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("form") not in RESUMABLE_SLOTS:
        return None
    slots = state.get("slots")
    allowed = RESUMABLE_SLOTS[state["form"]]
    if not isinstance(slots, dict):
        return None
    return {"form": state["form"], "slots": {k: v for k, v in slots.items() if k in allowed}}


class ActionRiprendiModulo(Action):
    """«riprendi»: put the saved answers back; the rules then start that form again."""

    def name(self) -> str:
        return "action_riprendi_modulo"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        state = suspended(tracker)
        if state is None:
            dispatcher.utter_message(response="utter_nulla_da_riprendere")
            return [SlotSet(RESUME_SLOT, NOTHING)]
        form = state["form"]
        if form in PERSONAL_FORMS:
            if await form_customer(dispatcher, tracker) is None:
                return [SlotSet(RESUME_SLOT, NOTHING)]
        dispatcher.utter_message(response="utter_riprendo_modulo")
        restored = [SlotSet(name, value) for name, value in state["slots"].items()]
        started = {"service_request_form": "sr_start", "payment_form": "pay_start"}.get(form)
        flags = [SlotSet(started, True)] if started else []
        return (
            clear_all_forms()
            + restored
            + flags
            + [SlotSet(SUSPENDED_SLOT, None), SlotSet(RESUME_SLOT, form)]
        )
