"""The support request form: reply e-mail, reason, text, confirmation, ticket number.

Anonymous users may use it too (the seeds' support form needs no login). A verified
customer's ticket is linked to them (customer id from the token, never typed). The brand is
the token's for a verified customer, otherwise the session's.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.form_base import Answer, GuidedForm, prose_answer, yes_or_no
from actions.form_cancel import plain
from actions.guard import conversation_brand, verified_customer
from actions.step_up import ABORTED, failure, latest_intent
from identity import identity_from_tracker

FORM_SLOTS = ("support_email", "support_reason", "support_text", "support_confirm")
# The same pragmatic check the backend makes (backend_stub/validation.py).
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
REASON_LABELS = {"navigazione": "navigazione", "informazioni_polizza": "informazioni sulla polizza"}
REASON_CODES = {label: code for code, label in REASON_LABELS.items()}
MIN_TEXT, MAX_TEXT = 10, 4000


def email_in(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    match = EMAIL_RE.search(text.strip())
    return match.group().lower() if match else None


def reason_in(text: Any) -> str | None:
    """``navigazione`` / ``informazioni_polizza`` from free text (buttons send the label)."""
    if not isinstance(text, str):
        return None
    words = plain(text)
    if any(w in words for w in ("navig", "sito", "app", "accesso", "accedere", "tecnic")):
        return "navigazione"
    if any(w in words for w in ("polizz", "informazion", "contratto")):
        return "informazioni_polizza"
    return None


def other_reason(label: Any) -> str:
    """«il motivo è l'altro»: the support form has exactly two reasons."""
    code = REASON_CODES.get(str(label))
    return next(lbl for c, lbl in REASON_LABELS.items() if c != code)


class ValidateSupportForm(GuidedForm):
    form_slots = FORM_SLOTS
    answers = (
        Answer("support_email", re.compile(r"\b(e ?mail|mail|indirizzo|posta)\b"), email_in),
        Answer("support_reason", re.compile(r"\b(motivo|ragione|categoria)\b"), reason_in,
               other=other_reason),
        Answer("support_text", re.compile(r"\b(testo|messaggio|descrizione)\b"), prose=True),
        Answer("support_confirm", re.compile(r"(?!)"), yes_or_no),
    )

    def name(self) -> str:
        return "validate_support_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[str]:
        if tracker.get_slot("form_aborted"):
            return []  # gave up after 3 unusable answers: the form ends
        return domain_slots

    async def validate_support_email(self, value, dispatcher, tracker, domain):
        if said_no(tracker):
            return give_up(dispatcher, "support_email")
        email = email_in(value)
        if email is None:
            return failure(dispatcher, tracker, "support_email", "utter_email_non_valida")
        return {"support_email": email, "form_failures": 0.0}

    async def validate_support_reason(self, value, dispatcher, tracker, domain):
        if said_no(tracker):
            return give_up(dispatcher, "support_reason")
        code = reason_in(value)
        if code is None:
            return failure(dispatcher, tracker, "support_reason", "utter_motivo_non_valido")
        return {"support_reason": REASON_LABELS[code], "form_failures": 0.0}

    async def validate_support_confirm(self, value, dispatcher, tracker, domain):
        answer = yes_or_no(value, latest_intent(tracker))
        if answer is None:
            return failure(dispatcher, tracker, "support_confirm", "utter_conferma_si_no")
        return {"support_confirm": answer, "form_failures": 0.0}

    async def validate_support_text(self, value, dispatcher, tracker, domain):
        if said_no(tracker):
            return give_up(dispatcher, "support_text")
        text = " ".join(str(value or "").split())
        if not MIN_TEXT <= len(text) <= MAX_TEXT or not prose_answer(text):
            return failure(dispatcher, tracker, "support_text", "utter_testo_non_valido")
        return {"support_text": text, "form_failures": 0.0}


NO_WORDS = {"no", "nope", "nah", "niente", "nessuno", "nessuna"}


def said_no(tracker: Tracker) -> bool:
    """A plain «no» / «no grazie» instead of an answer: the customer wants out.

    The intent alone is not enough: one-word answers ("navigazione") can be classified as
    `negazione`, so the message must also start with a no-word and be short."""
    words = plain(str((tracker.latest_message or {}).get("text") or "")).split()
    return (latest_intent(tracker) == "negazione" and 0 < len(words) <= 4
            and words[0].strip(",.!") in NO_WORDS)


def give_up(dispatcher: CollectingDispatcher, slot: str) -> Dict[str, Any]:
    dispatcher.utter_message(response="utter_modulo_annullato")
    return {slot: ABORTED, "form_failures": 0.0, "form_aborted": True}


def reset_form() -> List[EventType]:
    return [SlotSet(s, None) for s in FORM_SLOTS] + [
        SlotSet("form_failures", 0.0),
        SlotSet("form_aborted", False),
    ]


class ActionInviaRichiestaSupporto(Action):
    """Submit of support_form: create the ticket, or nothing if declined / abandoned."""

    def name(self) -> str:
        return "action_invia_richiesta_supporto"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if tracker.get_slot("form_aborted") or ABORTED in [
            tracker.get_slot(s) for s in FORM_SLOTS
        ]:
            return reset_form()
        if tracker.get_slot("support_confirm") != "si":
            dispatcher.utter_message(response="utter_richiesta_supporto_non_inviata")
            return reset_form()
        identity = identity_from_tracker(tracker)
        email = tracker.get_slot("support_email")
        reason = REASON_CODES.get(tracker.get_slot("support_reason"), "informazioni_polizza")
        try:
            # A visitor's ticket carries no customer; a token for the wrong brand neither.
            customer_id = await verified_customer(tracker)
            ticket = await BackendClient().create_support_ticket(
                brand=conversation_brand(identity, tracker),
                reply_email=email,
                reason=reason,
                text=tracker.get_slot("support_text"),
                customer_id=customer_id,
            )
        except BackendUnavailable:
            # The support form is the usual fallback, so point to the other channels.
            dispatcher.utter_message(response="utter_supporto_non_disponibile")
            return reset_form()
        except BackendRefused:
            dispatcher.utter_message(response="utter_supporto_rifiutato")
            return reset_form()
        dispatcher.utter_message(
            response="utter_richiesta_supporto_inviata",
            ticket=ticket.get("ticket_number"),
            # The address the customer typed a moment ago (shown in the summary too).
            email=email,
        )
        return reset_form()
