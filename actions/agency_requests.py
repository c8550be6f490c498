"""Requests that reach the customer's agency: claim, surrender (total/partial), extra
payment, suspension/reactivation of the cover (backend ``service-requests``).

Flow: ``action_avvia_richiesta_agenzia`` checks identity (guard: WhatsApp senders step up
first), reads the kind and a policy number from the message, and sets ``sr_start`` so a
rule opens ``service_request_form``. The form asks only what the kind needs; the policy
must belong to the verified customer (the backend answers ``policy_not_owned`` alike for
another customer's number and an unknown one, so numbers cannot be probed). The submit
action checks identity again and sends the request; the backend's refusals are explained
in Italian.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from actions.form_base import Answer, GuidedForm, prose_answer, yes_or_no
from actions.form_cancel import wants_to_cancel
from actions.guard import backend_down, form_customer, require_customer, verified_customer
from actions.policy_focus import FOCUS_SLOT, names_focus, policy_answer, policy_in
from actions.step_up import ABORTED, failure, latest_intent
from actions.support import plain
from identity import identity_from_tracker, valid_iban

KINDS = {
    "claim": "denuncia di sinistro",
    "surrender_total": "riscatto totale",
    "surrender_partial": "riscatto parziale",
    "extra_payment": "versamento aggiuntivo",
    "suspension": "sospensione della copertura",
    "reactivation": "riattivazione della copertura",
}
SLOTS_BY_KIND = {
    "claim": ["sr_event_date", "sr_description"],
    "surrender_total": ["sr_iban"],
    "surrender_partial": ["sr_iban", "sr_amount"],
    "extra_payment": ["sr_amount"],
    "suspension": ["sr_effective_date"],
    "reactivation": ["sr_effective_date"],
}
DETAIL_SLOTS = ("sr_event_date", "sr_description", "sr_iban", "sr_amount", "sr_effective_date")
FORM_SLOTS = (
    "sr_kind", "policy_number", "sr_event_date", "sr_description", "sr_iban", "sr_amount",
    "sr_effective_date", "sr_confirm",
)
DATE_RE = re.compile(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b")
ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
IBAN_RE = re.compile(r"\b([A-Z]{2}\d{2}(?:\s?[A-Z0-9]){11,30})\b", re.IGNORECASE)
AMOUNT_RE = re.compile(r"(\d{1,3}(?:\.\d{3})+|\d+)(?:,(\d{1,2}))?")


# How much of the policy is surrendered, as people say it: «riscattare tutta la polizza»,
# «il riscatto di una parte», «riscatto integrale».
PARTIAL = re.compile(r"\b(parzial\w*|(una |in )?parte|un po\b|una quota)")
TOTAL = re.compile(r"\b(total\w*|tutt[aoie]|inter[aoie]|integral\w*|complet\w*|per intero)\b")


def kind_in(text: Any) -> str | None:
    """The request kind from what the customer wrote ("riscatto parziale", "sinistro");
    what is negated does not count («il totale, non il parziale»)."""
    words = re.sub(r"\bnon (il |la |lo |l |un |una )?\w+", " ", plain(str(text or "")))
    if words.strip() in KINDS:  # button payloads carry the code itself
        return words.strip()
    if "sinistr" in words or "denunc" in words:
        return "claim"
    if "riscatt" in words:
        if PARTIAL.search(words):
            return "surrender_partial"
        if TOTAL.search(words):
            return "surrender_total"
        return None
    if "versament" in words or "aggiuntiv" in words:
        return "extra_payment"
    if "riattiv" in words:
        return "reactivation"
    if "sospen" in words:
        return "suspension"
    return None


# A request named in words gets the answer on how it works first (with the button that
# sends it), unless the customer asks to send it now.
FAQ_BY_TOPIC = {"claim": "utter_faq_sinistro", "surrender": "utter_faq_riscatto",
                "extra_payment": "utter_faq_versamento_aggiuntivo",
                "suspension": "utter_faq_sospensione_riattivazione"}
SEND_NOW = re.compile(r"\b(invia\w*|mand\w*|inoltr\w*|apri\w*|fai partire|procedi|subito)\b")
# «posso fare un riscatto?», «come si denuncia un sinistro» ask how it works; «vorrei il
# riscatto parziale della CV…» asks for the request itself.
ASKS_HOW = re.compile(r"\?|^(ma |e )?(posso|come|si puo|e possibile|cosa|quali|quando|quanto|"
                      r"in che modo|che)\b|\b(come (si fa|funziona|faccio|posso|si)|si puo|"
                      r"e possibile|informazioni)\b")


# «ok mandala tu all'agenzia» right after how an extra payment works is that request; a
# surrender (total or partial?) or a suspension/reactivation still asks which.
KIND_BY_ANSWER = {"utter_faq_versamento_aggiuntivo": "extra_payment",
                  "utter_faq_sinistro": "claim"}


def kind_just_explained(events: List[Dict[str, Any]]) -> str | None:
    """The request whose «how it works» the assistant gave right before the latest message."""
    user_messages = 0
    for event in reversed(events):
        if event.get("event") == "user":
            user_messages += 1
            if user_messages > 1:
                return None
        elif event.get("event") == "bot" and user_messages == 1:
            kind = KIND_BY_ANSWER.get((event.get("metadata") or {}).get("utter_action"))
            if kind:
                return kind
    return None


def topic_in(text: Any) -> str | None:
    """Which FAQ topic a request named in words belongs to (riscatto, sinistro, ...)."""
    kind = kind_in(text)
    if kind is None:
        return "surrender" if "riscatt" in plain(str(text or "")) else None
    return {"surrender_total": "surrender", "surrender_partial": "surrender",
            "reactivation": "suspension"}.get(kind, kind)


def date_in(text: Any, today: date | None = None) -> date | None:
    """``12/03/2025``, ``12-3-25``, ``2025-03-12``, ``oggi``, ``ieri``, ``domani``."""
    today = today or date.today()
    words = plain(str(text or ""))
    for word, delta in (("dopodomani", 2), ("domani", 1), ("ieri", -1), ("oggi", 0)):
        if word in words:
            return today + timedelta(days=delta)
    try:
        if m := ISO_DATE_RE.search(words):
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if m := DATE_RE.search(words):
            year = int(m.group(3))
            year = year + 2000 if year < 100 else year
            return date(year, int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    return None


def iban_in(text: Any) -> str | None:
    """The IBAN in ``text`` (found by a regex, checked by identity.valid_iban: mod-97 and
    the country's layout, an Italian one 27 characters), spaces removed."""
    match = IBAN_RE.search(str(text or ""))
    return valid_iban(match.group(1)) if match else None


def amount_in(text: Any) -> str | None:
    """``1.500,50 €`` / ``500 euro`` / ``250.75`` -> ``"1500.50"`` (0 < amount <= 1 000 000)."""
    raw = str(text or "")
    thousands = re.search(r"\b(\d+(?:[.,]\d+)?)\s*(mila|k)\b|\b(mille)\b", raw, re.IGNORECASE)
    if thousands:  # «10 mila», «2,5 mila», «mille»
        number = thousands.group(1) or "1"
        value = Decimal(number.replace(".", "").replace(",", ".")) * 1000
        return f"{value.quantize(Decimal('0.01'))}" if 0 < value <= 1000000 else None
    dotted = re.search(r"\b(\d+)\.(\d{1,2})\b", raw)
    try:
        if dotted and not re.search(r"\d\.\d{3}\b", raw):
            value = Decimal(f"{dotted.group(1)}.{dotted.group(2)}")
        elif m := AMOUNT_RE.search(raw):
            value = Decimal(m.group(1).replace(".", "") + "." + (m.group(2) or "0"))
        else:
            return None
    except InvalidOperation:
        return None
    if not Decimal("0") < value <= Decimal("1000000"):
        return None
    return f"{value.quantize(Decimal('0.01'))}"


def euro(amount: str) -> str:
    whole, _, cents = amount.partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{groups},{cents or '00'} €"


def reset_events() -> List[EventType]:
    return [SlotSet(s, None) for s in FORM_SLOTS] + [
        SlotSet("sr_start", False),
        SlotSet("form_failures", 0.0),
        SlotSet("form_aborted", False),
    ]


NOT_THEIRS = ("policy_not_owned", "invalid_policy_number")


async def dry_run_refusal(customer_id: str | None, kind: str | None,
                          number: str | None) -> BackendRefused | None:
    """The backend's refusal of ``kind`` on that policy (a dry run: nothing is created), or
    None when it applies or there is nothing to ask yet. BackendUnavailable propagates."""
    if kind not in KINDS or not number or number == ABORTED or customer_id is None:
        return None
    try:
        await BackendClient().create_service_request(
            customer_id, kind=kind, details={}, policy_number=number, dry_run=True)
    except BackendRefused as refusal:
        return refusal
    return None


class ActionAvviaRichiestaAgenzia(Action):
    def name(self) -> str:
        return "action_avvia_richiesta_agenzia"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        text = (tracker.latest_message or {}).get("text") or ""
        kind = (tracker.get_slot("sr_kind") or kind_in(text)
                or kind_just_explained(tracker.events))
        number = tracker.get_slot("policy_number") or policy_in(text)
        if number is None and names_focus(text):
            number = tracker.get_slot(FOCUS_SLOT)  # «…sempre sulla stessa polizza»
        if kind not in KINDS:
            kind = None
        topic = topic_in(text)
        visitor = identity_from_tracker(tracker).is_anonymous
        how_first = visitor or not number or bool(ASKS_HOW.search(plain(text)))
        if topic and not text.startswith("/") and how_first and not SEND_NOW.search(plain(text)):
            # «posso fare un versamento aggiuntivo?», «devo denunciare un sinistro» (or anybody
            # not logged in): first how it works, with the button that sends the request (the
            # policy number is kept). «vorrei il riscatto parziale della CV…» starts it.
            if not await self._refused_at_once(dispatcher, tracker, kind, number):
                dispatcher.utter_message(response=FAQ_BY_TOPIC[topic])
            return [SlotSet("policy_number", number), SlotSet("step_up_required", False),
                    SlotSet("sr_start", False)]
        events = [
            *reset_events(),
            SlotSet("sr_kind", kind),
            SlotSet("policy_number", number),
        ]
        iban = iban_in(text) if not text.startswith("/") else None
        if iban and (kind is None or "sr_iban" in SLOTS_BY_KIND[kind]):
            # «il riscatto totale della AL…, iban IT60…»: not asked again (the form checks it
            # like a typed answer when it opens; a kind without an IBAN drops it)
            events.append(SlotSet("sr_iban", iban))
        access = await require_customer(dispatcher, tracker, self.name())
        if not access.allowed:
            return events + access.events
        return events + access.events + [SlotSet("sr_start", True)]

    @staticmethod
    async def _refused_at_once(dispatcher, tracker, kind, number) -> bool:
        """«posso fare un versamento aggiuntivo sulla CV…?» on a policy that does not allow it:
        the refusal instead of how it works (the backend's dry run decides)."""
        try:
            customer_id = await verified_customer(tracker)
            refusal = await dry_run_refusal(customer_id, kind, number)
        except BackendUnavailable:
            return False  # how it works still helps; the form reports the outage later
        if refusal is None or refusal.code in NOT_THEIRS:
            return False
        explain_service_refusal(dispatcher, refusal, kind)
        return True


DATE_WORDS = r"(data|giorno|quando|il \d{1,2})"


class ValidateServiceRequestForm(GuidedForm):
    form_slots = FORM_SLOTS
    answers = (
        Answer("sr_kind", re.compile(
            r"\b(riscatt\w*|sinistr\w*|denunc\w*|versament\w*|sospen\w*|riattiv\w*)\b"), kind_in),
        Answer("policy_number", re.compile(r"\b(polizz\w*|contratt\w*|numero)\b"), policy_in),
        Answer("sr_event_date", re.compile(rf"\b{DATE_WORDS}\b"), date_in, evident=True),
        Answer("sr_description", re.compile(r"\b(descrizione|descritto)\b"), prose=True),
        Answer("sr_iban", re.compile(r"\biban\b"), iban_in, evident=True),
        Answer("sr_amount", re.compile(r"\b(importo|cifra|somma|euro)\b"), amount_in,
               evident=True),
        Answer("sr_effective_date", re.compile(rf"\b{DATE_WORDS}\b"), date_in, evident=True),
        Answer("sr_confirm", re.compile(r"(?!)"), yes_or_no),
    )

    def name(self) -> str:
        return "validate_service_request_form"

    def optional_answers(self, tracker: Tracker) -> set[str]:
        # A claim may carry the IBAN for the reimbursement (backend: claim {iban?}).
        return {"sr_iban"} if tracker.get_slot("sr_kind") == "claim" else set()

    async def required_slots(self, domain_slots, dispatcher, tracker, domain) -> List[str]:
        if tracker.get_slot("form_aborted"):
            return []
        kind = tracker.get_slot("sr_kind")
        if kind not in KINDS:
            return ["sr_kind", "policy_number", "sr_confirm"]
        return ["policy_number", *SLOTS_BY_KIND[kind], "sr_confirm"]

    async def extract_sr_kind(self, dispatcher, tracker, domain) -> Dict[str, Any]:
        if tracker.get_slot("requested_slot") != "sr_kind" or wants_to_cancel(tracker):
            return {}
        text = (tracker.latest_message or {}).get("text")
        if kind_in(text) is None and policy_in(text):
            return {}  # the policy, given early: kept below, and the kind asked again
        return {"sr_kind": text}

    async def extract_policy_number(self, dispatcher, tracker, domain) -> Dict[str, Any]:
        if wants_to_cancel(tracker):
            return {}
        text = (tracker.latest_message or {}).get("text")
        early = policy_in(text) if tracker.get_slot("requested_slot") == "sr_kind" else None
        if early:
            return {"policy_number": early}  # «CV20000005» asked which request
        if tracker.get_slot("requested_slot") != "policy_number":
            return {}
        return {"policy_number": policy_answer(tracker) or text}

    async def validate_sr_kind(self, value, dispatcher, tracker, domain):
        kind = kind_in(value)
        if kind is None:
            return failure(dispatcher, tracker, "sr_kind", "utter_sr_tipo_non_valido")
        # A changed kind keeps the details it shares with the old one (the IBAN of a
        # surrender) and drops the others; a policy already given is checked again.
        unused = {s: None for s in DETAIL_SLOTS if s not in SLOTS_BY_KIND[kind]}
        try:
            customer_id = await verified_customer(tracker)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"sr_kind": kind, "policy_number": ABORTED, "form_aborted": True}
        refused = await self._ineligible(dispatcher, tracker, customer_id, kind,
                                         tracker.get_slot("policy_number"))
        if refused is not None:
            return {"sr_kind": kind, **refused}
        return {"sr_kind": kind, **unused, "form_failures": 0.0}

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
            policy = await BackendClient().get_policy(customer_id, number)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"policy_number": ABORTED, "form_aborted": True}
        except BackendRefused as refusal:
            if refusal.code in ("policy_not_owned", "invalid_policy_number"):
                return failure(
                    dispatcher, tracker, "policy_number", "utter_polizza_non_tua", numero=number
                )
            dispatcher.utter_message(response="utter_richiesta_non_riuscita")
            return {"policy_number": ABORTED, "form_aborted": True}
        number = policy.get("number") or number
        refused = await self._ineligible(dispatcher, tracker, customer_id,
                                         tracker.get_slot("sr_kind"), number)
        if refused is not None:
            return refused
        return {"policy_number": number, FOCUS_SLOT: number, "form_failures": 0.0}

    async def _ineligible(self, dispatcher, tracker, customer_id, kind, number):
        """Whether ``kind`` applies to the policy, asked before the details: a surrender on
        a danni policy is refused here, not after the IBAN. None when it applies."""
        try:
            refusal = await dry_run_refusal(customer_id, kind, number)
        except BackendUnavailable:
            backend_down(dispatcher)
            return {"policy_number": ABORTED, "form_aborted": True}
        if refusal is None:
            return None
        if refusal.code in NOT_THEIRS:
            return failure(dispatcher, tracker, "policy_number",
                           "utter_polizza_non_tua", numero=number)
        explain_service_refusal(dispatcher, refusal, kind)
        return {"policy_number": ABORTED, "form_aborted": True}

    async def validate_sr_event_date(self, value, dispatcher, tracker, domain):
        day = date_in(value)
        if day is None or day > date.today():
            return failure(dispatcher, tracker, "sr_event_date", "utter_data_evento_non_valida")
        return {"sr_event_date": day.isoformat(), "form_failures": 0.0}

    async def validate_sr_effective_date(self, value, dispatcher, tracker, domain):
        day = date_in(value)
        if day is None or day < date.today():
            return failure(
                dispatcher, tracker, "sr_effective_date", "utter_data_decorrenza_non_valida"
            )
        return {"sr_effective_date": day.isoformat(), "form_failures": 0.0}

    async def validate_sr_description(self, value, dispatcher, tracker, domain):
        text = " ".join(str(value or "").split())
        if not 10 <= len(text) <= 4000 or not prose_answer(text):
            return failure(dispatcher, tracker, "sr_description", "utter_testo_non_valido")
        return {"sr_description": text, "form_failures": 0.0}

    async def validate_sr_iban(self, value, dispatcher, tracker, domain):
        iban = iban_in(value)
        if iban is None:
            return failure(dispatcher, tracker, "sr_iban", "utter_iban_non_valido")
        return {"sr_iban": iban, "form_failures": 0.0}

    async def validate_sr_amount(self, value, dispatcher, tracker, domain):
        amount = amount_in(value)
        if amount is None:
            return failure(dispatcher, tracker, "sr_amount", "utter_importo_non_valido")
        return {"sr_amount": amount, "form_failures": 0.0}

    async def validate_sr_confirm(self, value, dispatcher, tracker, domain):
        answer = yes_or_no(value, latest_intent(tracker))
        if answer is None:
            return failure(dispatcher, tracker, "sr_confirm", "utter_conferma_si_no")
        return {"sr_confirm": answer, "form_failures": 0.0}


class ActionAskSrConfirm(Action):
    """The summary before sending: what, which policy, the details typed."""

    def name(self) -> str:
        return "action_ask_sr_confirm"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        lines = [f"- richiesta: {KINDS.get(tracker.get_slot('sr_kind'), '')}",
                 f"- polizza: {tracker.get_slot('policy_number')}"]
        if day := tracker.get_slot("sr_event_date"):
            lines.append(f"- data dell'evento: {_it_date(day)}")
        if text := tracker.get_slot("sr_description"):
            lines.append(f"- descrizione: {text}")
        if iban := tracker.get_slot("sr_iban"):
            lines.append(f"- IBAN per l'accredito: {iban[:4]} **** {iban[-4:]}")
        if amount := tracker.get_slot("sr_amount"):
            lines.append(f"- importo: {euro(amount)}")
        if day := tracker.get_slot("sr_effective_date"):
            lines.append(f"- dal giorno: {_it_date(day)}")
        dispatcher.utter_message(response="utter_sr_riepilogo", riepilogo="\n".join(lines))
        return []


def _it_date(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


def details_for(kind: str, slots: Dict[str, Any]) -> Dict[str, Any]:
    if kind == "claim":
        claim = {"description": slots["sr_description"], "event_date": slots["sr_event_date"]}
        return {**claim, "iban": slots["sr_iban"]} if slots.get("sr_iban") else claim
    if kind == "surrender_total":
        return {"iban": slots["sr_iban"]}
    if kind == "surrender_partial":
        return {"iban": slots["sr_iban"], "amount": slots["sr_amount"]}
    if kind == "extra_payment":
        return {"amount": slots["sr_amount"]}
    return {"effective_date": slots["sr_effective_date"]}


class ActionInviaRichiestaAgenzia(Action):
    """Submit: identity re-checked from the token, then the backend's service request."""

    def name(self) -> str:
        return "action_invia_richiesta_agenzia"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        slots = dict(tracker.slots)
        if slots.get("form_aborted") or ABORTED in [slots.get(s) for s in FORM_SLOTS]:
            return reset_events()
        if slots.get("sr_confirm") != "si":
            dispatcher.utter_message(response="utter_sr_non_inviata")
            return reset_events()
        access = await require_customer(dispatcher, tracker, None)
        if not access.allowed:
            return reset_events() + access.events
        kind = slots.get("sr_kind")
        try:
            result = await BackendClient().create_service_request(
                access.customer_id,
                kind=kind,
                details=details_for(kind, slots),
                policy_number=slots.get("policy_number"),
            )
        except BackendUnavailable:
            backend_down(dispatcher)
            return reset_events()
        except BackendRefused as refusal:
            explain_service_refusal(dispatcher, refusal, kind)
            return reset_events()
        agency = result.get("agency") or {}
        dispatcher.utter_message(
            response="utter_sr_inviata",
            richiesta=KINDS.get(kind, ""),
            numero=result.get("request_number"),
            agenzia=agency.get("name") or agency.get("code") or "",
        )
        return reset_events()


def explain_service_refusal(
    dispatcher: CollectingDispatcher, refusal: BackendRefused, kind: str | None
) -> None:
    code = refusal.code
    if code.endswith("_not_allowed") and code != "extra_payment_not_allowed":
        dispatcher.utter_message(response="utter_sr_non_prevista", richiesta=KINDS.get(kind, ""))
    elif code in ("extra_payment_not_allowed", "policy_not_active", "policy_not_owned",
                  "date_in_the_past", "date_in_the_future"):
        dispatcher.utter_message(response=f"utter_sr_{code}")
    else:
        dispatcher.utter_message(response="utter_richiesta_non_riuscita")
