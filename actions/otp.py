"""Send a new OTP code ("non mi è arrivato, rimandamelo"), respecting the backend's limits.

A WhatsApp sender who has not stepped up yet gets a new step-up code (the form then waits
for it). A website customer gets a new code to the dispositive mobile: the backend's new
challenge supersedes any pending one. During the payment form the new code is a payment
code and replaces the form's challenge. Cooldown and hourly cap: we say when a new code
may be asked, from the backend's ``retry_after_seconds``.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.guard import (
    STEP_UP_CHALLENGE,
    STEP_UP_CUSTOMER,
    STEP_UP_REQUIRED,
    backend_down,
    explain_otp_refusal,
    require_customer,
)
from identity import identity_from_tracker, personal_data_customer

PAYMENT_CHALLENGE = "payment_challenge"


class ActionReinviaCodice(Action):
    def name(self) -> str:
        return "action_reinvia_codice"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        identity = identity_from_tracker(tracker)
        step_up_customer = tracker.get_slot(STEP_UP_CUSTOMER)
        if (
            identity.kind == "whatsapp"
            and personal_data_customer(identity, dict(tracker.slots)) is None
            and step_up_customer
        ):
            # A pending step-up: a new step-up code for the same customer; the form goes on.
            events = await self._send(
                dispatcher, step_up_customer, "step_up", STEP_UP_CHALLENGE, identity
            )
            return events + [SlotSet(STEP_UP_REQUIRED, True)]
        # No action to resume after a step-up started here: the code itself was the point.
        access = await require_customer(dispatcher, tracker, None)
        if not access.allowed:
            # A WhatsApp sender just got a first step-up code from the guard.
            return access.events
        in_payment = tracker.active_loop_name == "payment_form"
        purpose = "payment" if in_payment else "step_up"
        slot = PAYMENT_CHALLENGE if in_payment else None
        return access.events + await self._send(
            dispatcher, access.customer_id, purpose, slot, identity
        )

    async def _send(self, dispatcher, customer_id, purpose, slot, identity) -> List[EventType]:
        try:
            challenge = await BackendClient().create_otp_challenge(customer_id, purpose)
        except BackendUnavailable:
            backend_down(dispatcher)
            return []
        except BackendRefused as refusal:
            explain_otp_refusal(dispatcher, refusal)
            return []
        dispatcher.utter_message(
            response="utter_codice_reinviato",
            destinazione=challenge.get("destination_masked") or "",
            cifre=challenge.get("code_length") or "",
        )
        events: List[EventType] = []
        if slot:
            events.append(SlotSet(slot, str(challenge["challenge_id"])))
        return events
