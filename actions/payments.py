"""Assisted payment of installments: policy, installments, method, OTP typed in the chat,
payment link as the result (backend ``payment-requests``).

``action_avvia_pagamento`` checks identity (WhatsApp: step-up first) and sets ``pay_start``
so a rule opens ``payment_form``. The backend's rules are applied at each step and its
refusals explained in Italian: direct debit (SDD) policies, installments more than 6 months
overdue, protection products before 30 days from the due date, future installments, and
the "oldest first, no skipping" rule. Rules are checked with a dry run before any code is
sent, so a refusal never burns an OTP. The code is a ``payment`` challenge sent to the
dispositive mobile; the link comes only after the backend verified it.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.agency_requests import euro
from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.form_base import Answer, GuidedForm
from actions.form_cancel import wants_to_cancel
from actions.guard import backend_down, explain_otp_refusal, form_customer, require_customer
from actions.installment_choice import choice_in, names_installments
from actions.otp import PAYMENT_CHALLENGE
from actions.policies import italian_date
from actions.policy_focus import FOCUS_SLOT, policy_answer, policy_in
from actions.step_up import (
    ABORTED,
    VERIFIED,
    explain_verify_refusal,
    failure,
    latest_intent,
    typed_code,
)
from actions.support import plain
from identity.brands import brand_facts

FORM_SLOTS = ("policy_number", "pay_installments", "pay_method", "pay_otp")
# Why an installment cannot be paid online (backend reason/refusal code) -> response.
REASONS = {
    "sdd_not_payable", "overdue_more_than_6_months", "older_installment_not_payable",
    "protection_not_yet_due", "not_yet_due", "policy_not_active", "installment_skipped",
    "already_paid", "installment_already_paid",
}
METHODS = {"visa": ("card", "visa"), "mastercard": ("card", "mastercard"),
           "master card": ("card", "mastercard"), "carta": ("card", None),
           "mybank": ("mybank", None), "my bank": ("mybank", None),
           # not online: the consultant calls to fix an appointment (backend method "agency")
           "consulente": ("agency", None), "appuntamento": ("agency", None),
           "agenzia": ("agency", None)}
# The buttons of the method question, by backend method (card: one per network).
METHOD_BUTTONS = {"visa": "Carta Visa", "mastercard": "Carta MasterCard", "mybank": "MyBank",
                  "consulente": "Appuntamento con il Consulente"}
IDS = re.compile(r"^id:\d+(,id:\d+)*$")
BOTH = re.compile(r"\b(e (due|tre|quattro|\d)|entramb\w*)\b")


def reset_events() -> List[EventType]:
    return [SlotSet(s, None) for s in FORM_SLOTS] + [
        SlotSet(PAYMENT_CHALLENGE, None),
        SlotSet("pay_start", False),
        SlotSet("form_failures", 0.0),
        SlotSet("form_aborted", False),
    ]


def explain_reason(dispatcher: CollectingDispatcher, code: str, **values: Any) -> None:
    if code in REASONS:
        dispatcher.utter_message(response=f"utter_pagamento_{code}", **values)
    else:
        dispatcher.utter_message(response="utter_richiesta_non_riuscita")


def unpaid(installments: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Unpaid installments, oldest first: the numbered list the customer chooses from."""
    return sorted((i for i in installments if not i.get("paid")),
                  key=lambda i: (str(i.get("due_date")), i.get("id", 0)))


def method_in(text: Any) -> tuple[str, str | None] | None:
    words = plain(str(text or ""))
    for key in ("mastercard", "master card", "visa", "mybank", "my bank", "carta", "consulente",
                "appuntamento", "agenzia"):
        if key in words:
            return METHODS[key]
    return None


def offered_methods(brand: str | None, payable: List[str] | None = None) -> List[str]:
    """Button payloads of the method question: what the policy accepts online (the backend's
    ``payable_methods``, else the brand's), plus the consultant where the brand has one."""
    facts = brand_facts(brand)
    methods = payable or list(facts.payment_methods)
    offered = [n for n in facts.card_networks if "card" in methods]
    offered += ["mybank"] if "mybank" in methods else []
    return offered + (["consulente"] if facts.consultant_appointment else [])


def method_allowed(method: tuple[str, str | None], brand: str | None) -> bool:
    kind, network = method
    offered = offered_methods(brand)
    if kind == "agency":
        return "consulente" in offered
    if kind == "card":
        return network is None or network in offered
    return kind in offered




class ActionAvviaPagamento(Action):
    def name(self) -> str:
        return "action_avvia_pagamento"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        number = tracker.get_slot("policy_number") or policy_in(text)
        events = [*reset_events(), SlotSet("policy_number", number)]
        access = await require_customer(dispatcher, tracker, self.name())
        if not access.allowed:
            return events + access.events
        return events + access.events + [SlotSet("pay_start", True)]


class ValidatePaymentForm(GuidedForm):
    form_slots = FORM_SLOTS
    answers = (
        Answer("policy_number", re.compile(r"\b(polizz\w*|contratt\w*)\b"), policy_in,
               clears=("pay_installments",)),
        Answer("pay_installments", re.compile(r"\b(rat[ae])\b"), names_installments),
        Answer("pay_method", re.compile(
            r"\b(metodo|carta|mybank|my bank|visa|mastercard|bonifico|pag\w* con)\b"), method_in),
        Answer("pay_otp", re.compile(r"(?!)"), typed_code),
    )

    def name(self) -> str:
        return "validate_payment_form"

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[str]:
        return [] if tracker.get_slot("form_aborted") else domain_slots

    async def extract_policy_number(self, dispatcher, tracker, domain) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != "policy_number":
            return {}
        if wants_to_cancel(tracker):
            return {}
        text = (tracker.latest_message or {}).get("text")
        return {"policy_number": policy_answer(tracker) or text}

    async def extract_pay_otp(self, dispatcher, tracker, domain) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != "pay_otp":
            return {}
        text = (tracker.latest_message or {}).get("text") or ""
        if typed_code(text) is not None:
            return {"pay_otp": text}
        if wants_to_cancel(tracker) or latest_intent(tracker) == "richiedi_nuovo_codice" \
                or text.startswith("/"):
            return {}
        return {"pay_otp": text}

    async def validate_policy_number(self, value, dispatcher, tracker, domain):
        if value == ABORTED:
            return {}
        number = policy_in(value)
        if number is None:
            return failure(dispatcher, tracker, "policy_number", "utter_polizza_formato")
        customer_id = await form_customer(dispatcher, tracker)
        if customer_id is None:
            return {"policy_number": ABORTED, "form_aborted": True}
        try:
            result = await BackendClient().get_installments(customer_id, number)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"policy_number": ABORTED, "form_aborted": True}
        except BackendRefused as refusal:
            if refusal.code in ("policy_not_owned", "invalid_policy_number"):
                return failure(
                    dispatcher, tracker, "policy_number", "utter_polizza_non_tua", numero=number
                )
            explain_reason(dispatcher, refusal.code)
            return {"policy_number": ABORTED, "form_aborted": True}
        todo = unpaid(list(result.get("installments") or []))
        if not todo:
            # Perhaps the wrong policy: say so and ask which one.
            return failure(dispatcher, tracker, "policy_number", "utter_pagamento_nessuna_rata")
        if not any(i.get("payable") for i in todo):
            # Nothing payable online: the oldest unpaid installment says why.
            explain_reason(dispatcher, todo[0].get("reason") or "", data=italian_date(
                todo[0].get("due_date")))
            return {"policy_number": ABORTED, "form_aborted": True}
        number = result.get("policy_number") or number
        return {"policy_number": number, FOCUS_SLOT: number, "form_failures": 0.0}

    async def validate_pay_installments(self, value, dispatcher, tracker, domain):
        customer_id = await form_customer(dispatcher, tracker)
        if customer_id is None:
            return {"pay_installments": ABORTED, "form_aborted": True}
        number = tracker.get_slot("policy_number")
        try:
            result = await BackendClient().get_installments(customer_id, number)
            todo = unpaid(list(result.get("installments") or []))
            if IDS.match(str(value)):
                # Already validated (a resumed form): the backend ids, checked again below.
                ids = [int(part[3:]) for part in str(value).split(",")]
            else:
                positions = choice_in(value, len(todo), [i.get("due_date") for i in todo])
                if positions is None:
                    return failure(dispatcher, tracker, "pay_installments",
                                   "utter_rate_scelta_hint", numero=len(todo))
                words = plain(str(value))
                if "tutt" in words and not BOTH.search(words):
                    # «tutte»: all those payable now (the list marks the others); «tutte e
                    # due» names them, so a non-payable one is explained below.
                    positions = [p for p in positions if todo[p - 1].get("payable")] or positions
                ids = [int(todo[p - 1]["id"]) for p in positions]
            await BackendClient().create_payment_request(
                customer_id, policy_number=number, installment_ids=ids, method="card",
                dry_run=True,
            )
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"pay_installments": ABORTED, "form_aborted": True}
        except BackendRefused as refusal:
            named = (refusal.extra.get("missing_installment_ids")
                     or refusal.extra.get("installment_ids") or [])
            dates = [italian_date(i.get("due_date")) for i in todo if i.get("id") in named]
            explain_reason(dispatcher, refusal.code, data=", ".join(dates) or "")
            return failure(dispatcher, tracker, "pay_installments", "utter_rate_scegli_ancora")
        # Stored as backend ids, marked so that no later turn reads them as list positions.
        return {"pay_installments": ",".join(f"id:{i}" for i in ids), "form_failures": 0.0}

    async def validate_pay_method(self, value, dispatcher, tracker, domain):
        method = method_in(value)
        if method is None or not method_allowed(method, tracker.get_slot("brand")):
            return failure(dispatcher, tracker, "pay_method", "utter_metodo_non_valido")
        kind, network = method
        return {"pay_method": f"{kind}:{network}" if network else kind, "form_failures": 0.0}

    async def validate_pay_otp(self, value, dispatcher, tracker, domain):
        if value in (ABORTED, VERIFIED):
            return {"pay_otp": value}
        challenge = tracker.get_slot(PAYMENT_CHALLENGE)
        customer_id = await form_customer(dispatcher, tracker)
        if customer_id is None:
            return {"pay_otp": ABORTED, "form_aborted": True}
        if not challenge:
            # No code could be sent yet (the resend cooldown): the form asks again, and
            # asking sends the code now.
            return {"pay_otp": None}
        code = typed_code(value)
        if code is None:
            digits = brand_facts(tracker.get_slot("brand")).otp_digits
            return failure(dispatcher, tracker, "pay_otp", "utter_codice_formato", cifre=digits)
        try:
            await BackendClient().verify_otp(customer_id, challenge, code)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"pay_otp": ABORTED, "form_aborted": True}
        except BackendRefused as refusal:
            result = explain_verify_refusal(dispatcher, refusal, "pay_otp")
            if result.get("form_aborted"):
                # Expired/locked/superseded: the customer may ask a new code («nuovo codice»)
                # without starting again; the form waits for it.
                return {"pay_otp": None, PAYMENT_CHALLENGE: None}
            return result
        return {"pay_otp": VERIFIED, "form_failures": 0.0}


async def _installments(dispatcher, tracker) -> tuple[bool, Dict[str, Any] | None]:
    """(identified, the policy's installments and accepted methods or None when the backend
    fails); an anonymous conversation has already been told how to identify."""
    customer_id = await form_customer(dispatcher, tracker)
    if customer_id is None:
        return False, None
    try:
        return True, await BackendClient().get_installments(
            customer_id, tracker.get_slot("policy_number"))
    except (BackendUnavailable, BackendRefused):
        return True, None


class ActionAskPayInstallments(Action):
    """The unpaid installments, numbered, with why some cannot be paid online."""

    def name(self) -> str:
        return "action_ask_pay_installments"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        identified, result = await _installments(dispatcher, tracker)
        if result is None:
            if identified:
                backend_down(dispatcher)
            return []
        lines = []
        for n, inst in enumerate(unpaid(list(result.get("installments") or [])), start=1):
            line = f"{n}. scadenza {italian_date(inst.get('due_date'))}: {euro(inst['amount'])}"
            if not inst.get("payable"):
                line += " (non pagabile online ora)"
            lines.append(line)
        dispatcher.utter_message(response="utter_ask_pay_installments", elenco="\n".join(lines))
        return []


class ActionAskPayMethod(Action):
    """How to pay: the methods this policy accepts online (and the brand's consultant)."""

    def name(self) -> str:
        return "action_ask_pay_method"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        # Without the backend's answer: the brand's methods (checked again at the end).
        identified, result = await _installments(dispatcher, tracker)
        if not identified:
            return []
        payable = list((result or {}).get("payable_methods") or []) or None
        offered = offered_methods(tracker.get_slot("brand"), payable)
        dispatcher.utter_message(
            response="utter_ask_pay_method",
            buttons=[{"title": METHOD_BUTTONS[m], "payload": m} for m in offered],
        )
        return []


def _resend_just_answered(tracker: Tracker) -> bool:
    events = list(tracker.events or [])
    for event in reversed(events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") == "action_reinvia_codice":
            return True
    return False


class ActionAskPayOtp(Action):
    """Send the payment code once (a re-ask after a wrong code reuses it)."""

    def name(self) -> str:
        return "action_ask_pay_otp"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        if tracker.get_slot(PAYMENT_CHALLENGE) or _resend_just_answered(tracker):
            # A code is out, or «nuovo codice» has just been answered in this turn (sent,
            # or the cooldown explained): no second attempt, no second message.
            dispatcher.utter_message(response="utter_ask_pay_otp_ancora")
            return []
        customer_id = await form_customer(dispatcher, tracker)
        if customer_id is None:
            return []
        try:
            challenge = await BackendClient().create_otp_challenge(customer_id, "payment")
        except BackendUnavailable:
            backend_down(dispatcher)
            return []
        except BackendRefused as refusal:
            explain_otp_refusal(dispatcher, refusal)
            dispatcher.utter_message(response="utter_ask_pay_otp_ancora")
            return []
        dispatcher.utter_message(
            response="utter_pagamento_codice_inviato",
            destinazione=challenge.get("destination_masked") or "",
            cifre=challenge.get("code_length") or "",
        )
        return [SlotSet(PAYMENT_CHALLENGE, str(challenge["challenge_id"]))]


class ActionCreaPagamento(Action):
    """Submit: identity re-checked, then the payment link (the OTP was verified)."""

    def name(self) -> str:
        return "action_crea_pagamento"

    async def run(self, dispatcher, tracker, domain) -> List[EventType]:
        slots = dict(tracker.slots)
        if slots.get("form_aborted") or ABORTED in [slots.get(s) for s in FORM_SLOTS]:
            return reset_events()
        if slots.get("pay_otp") != VERIFIED:
            return reset_events()
        access = await require_customer(dispatcher, tracker, None)
        if not access.allowed:
            return reset_events() + access.events
        kind, _, network = str(slots.get("pay_method")).partition(":")
        try:
            result = await BackendClient().create_payment_request(
                access.customer_id,
                policy_number=slots.get("policy_number"),
                installment_ids=[int(i.removeprefix("id:"))
                                 for i in str(slots.get("pay_installments")).split(",")],
                method=kind,
                card_network=network or None,
                otp_challenge_id=slots.get(PAYMENT_CHALLENGE),
            )
        except BackendUnavailable:
            backend_down(dispatcher)
            return reset_events()
        except BackendRefused as refusal:
            explain_reason(dispatcher, refusal.code, data="")
            return reset_events()
        if not result.get("payment_link"):
            dispatcher.utter_message(
                response="utter_pagamento_appuntamento",
                importo=euro(str(result.get("amount") or "0")),
                numero=result.get("request_number"),
            )
            return reset_events()
        dispatcher.utter_message(
            response="utter_pagamento_link",
            link=result.get("payment_link"),
            importo=euro(str(result.get("amount") or "0")),
            numero=result.get("request_number"),
        )
        return reset_events()
