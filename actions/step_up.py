"""OTP step-up for WhatsApp senders: the code the guard sent is typed in the chat.

``step_up_form`` has one slot, ``step_up_code`` (free text). Its validation verifies the
code with the backend: a wrong code re-asks with the attempts left; an expired, superseded
or locked challenge, or three answers that are not a code at all, end the form politely
with the way to get a new code. On success the signed ``identity_step_up`` marker is set
(identity/step_up.py step_up_marker: bound to the sender's number, 15 minutes) and
``action_step_up_done`` runs the action that asked for it (RESUMABLE).
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.form_base import Answer, GuidedForm
from actions.form_cancel import ABORTED, wants_to_cancel
from actions.guard import (
    STEP_UP_CHALLENGE,
    STEP_UP_CODE_LENGTH,
    STEP_UP_CUSTOMER,
    STEP_UP_PENDING_ACTION,
    STEP_UP_REQUIRED,
    backend_down,
)
from identity import STEP_UP_SLOT, identity_from_tracker, step_up_marker

MAX_FAILURES = 3
VERIFIED = "__verificato__"
# Actions a completed step-up may resume (never anything named in a slot by someone else).
# They run inside action_step_up_done, so the rules see one action and its slots.
RESUMABLE = {
    "action_mostra_polizze": "actions.policies:ActionMostraPolizze",
    "action_mostra_recapito_dispositivo": "actions.contacts:ActionMostraRecapitoDispositivo",
    "action_avvia_richiesta_agenzia": "actions.agency_requests:ActionAvviaRichiestaAgenzia",
    "action_avvia_pagamento": "actions.payments:ActionAvviaPagamento",
}
_DIGITS = re.compile(r"\d")


def typed_code(text: Any) -> str | None:
    """The digits of a typed code ("123 456", "il codice è 12345"), or None."""
    if not isinstance(text, str):
        return None
    digits = "".join(_DIGITS.findall(text))
    return digits if 4 <= len(digits) <= 8 else None


def failure(dispatcher, tracker, slot: str, hint: str | None, **values) -> Dict[str, Any]:
    """One more unusable answer: re-ask with a hint, give up after MAX_FAILURES.

    (Questions, holds and corrections never get here: actions/form_base.py.)"""
    failures = int(tracker.get_slot("form_failures") or 0) + 1
    if failures >= MAX_FAILURES:
        dispatcher.utter_message(response="utter_form_troppi_tentativi")
        return {slot: ABORTED, "form_failures": 0.0, "form_aborted": True}
    if hint:
        dispatcher.utter_message(response=hint, **values)
    return {slot: None, "form_failures": float(failures)}


def latest_intent(tracker: Tracker) -> str | None:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name")


class ValidateStepUpForm(GuidedForm):
    form_slots = ("step_up_code",)
    answers = (Answer("step_up_code", re.compile(r"(?!)"), typed_code),)

    def name(self) -> str:
        return "validate_step_up_form"

    async def extract_step_up_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> Dict[str, Any]:
        """Digits win whatever intent NLU guessed for them; «annulla» and «nuovo codice»
        without digits are left to the rules (the form is rejected and they run)."""
        if tracker.get_slot("requested_slot") != "step_up_code":
            return {}
        text = (tracker.latest_message or {}).get("text") or ""
        if typed_code(text) is not None:
            return {"step_up_code": text}
        if wants_to_cancel(tracker) or latest_intent(tracker) == "richiedi_nuovo_codice" \
                or text.startswith("/"):
            return {}
        return {"step_up_code": text}

    async def validate_step_up_code(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: Dict[str, Any],
    ) -> Dict[str, Any]:
        if value in (ABORTED, VERIFIED):
            return {"step_up_code": value}
        identity = identity_from_tracker(tracker)
        customer_id = tracker.get_slot(STEP_UP_CUSTOMER)
        challenge_id = tracker.get_slot(STEP_UP_CHALLENGE)
        if identity.kind != "whatsapp" or not customer_id or not challenge_id:
            dispatcher.utter_message(response="utter_identificazione_necessaria")
            return {"step_up_code": ABORTED, "form_aborted": True}
        code = typed_code(value)
        length = int(tracker.get_slot(STEP_UP_CODE_LENGTH) or 0)
        if code is None or (length and len(code) != length):
            return failure(
                dispatcher, tracker, "step_up_code", "utter_codice_formato", cifre=length or ""
            )
        try:
            await BackendClient().verify_otp(customer_id, challenge_id, code)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"step_up_code": ABORTED, "form_aborted": True}
        except BackendRefused as refusal:
            return explain_verify_refusal(dispatcher, refusal, "step_up_code")
        marker = step_up_marker(identity, customer_id)
        return {
            "step_up_code": VERIFIED,
            STEP_UP_SLOT: marker,
            STEP_UP_REQUIRED: False,
            "form_failures": 0.0,
            "form_aborted": False,
        }


def explain_verify_refusal(
    dispatcher: CollectingDispatcher, refusal: BackendRefused, slot: str
) -> Dict[str, Any]:
    """Wrong code: attempts left and re-ask. Expired/locked/superseded: end, offer a new one."""
    if refusal.code == "otp_wrong":
        left = refusal.extra.get("attempts_left")
        if isinstance(left, int) and left > 0:
            dispatcher.utter_message(response="utter_codice_errato_tentativi", tentativi=left)
            return {slot: None}
        dispatcher.utter_message(response="utter_codice_bloccato")
    elif refusal.code == "otp_expired":
        dispatcher.utter_message(response="utter_codice_scaduto")
    elif refusal.code == "otp_locked":
        dispatcher.utter_message(response="utter_codice_bloccato")
    elif refusal.code in ("otp_superseded", "otp_already_used"):
        dispatcher.utter_message(response="utter_codice_superato")
    else:
        dispatcher.utter_message(response="utter_richiesta_non_riuscita")
    return {slot: ABORTED, "form_aborted": True}


class ActionStepUpDone(Action):
    """After the form: resume what the customer asked for, or say what to do next."""

    def name(self) -> str:
        return "action_step_up_done"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        verified = tracker.get_slot("step_up_code") == VERIFIED
        pending = tracker.get_slot(STEP_UP_PENDING_ACTION)
        events: List[EventType] = [
            SlotSet("step_up_code", None),
            SlotSet(STEP_UP_PENDING_ACTION, None),
            SlotSet(STEP_UP_REQUIRED, False),
            SlotSet("form_aborted", False),
            SlotSet("form_failures", 0.0),
            # Set here, possibly again by the resumed action: the rules read them.
            SlotSet("sr_start", False),
            SlotSet("pay_start", False),
        ]
        if not verified:
            return events
        dispatcher.utter_message(response="utter_step_up_riuscito")
        if pending in RESUMABLE:
            module, _, cls = RESUMABLE[pending].partition(":")
            action = getattr(importlib.import_module(module), cls)()
            events += await action.run(dispatcher, tracker, domain)
        return events
