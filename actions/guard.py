"""Who may see personal data in this turn, re-derived from the token on every action.

Every action that touches a customer's data starts with :func:`require_customer`:

* a website customer (verified JWT): their own customer id, brand from the token;
* a WhatsApp sender with a valid OTP step-up (``identity_step_up`` slot, signed by us and
  bound to the sender's number): the customer proved by the step-up;
* a WhatsApp sender without it: no data yet. The guard sends a code to the dispositive
  mobile of the customer registered with that number, remembers which action asked
  (``step_up_pending_action``) and sets ``step_up_required`` so that a rule opens
  ``step_up_form`` (actions/step_up.py);
* anyone else (no token, bad token, staff: staff flows belong to the channel issue): a
  message on how to identify, never personal data.

The brand is checked where the data is read. A token's ``brand`` says which insurer's site
vouched for the customer; customer ids are one space across both brands in the backend,
so a validly signed CA Vita token naming an Alleanza customer's id must not open that
customer's data. Before any data, :func:`require_customer` reads the customer record and
compares its ``brand`` with the token's (or the WhatsApp channel's); a mismatch, or a
customer the backend does not know, gets exactly the refusal of an invalid token (same
message, same events), so the answer does not reveal that the id exists elsewhere.

Nothing here trusts typed text, slots other than the signed step-up marker, or metadata
other than ``identity_token`` (identity/tokens.py).

All texts are domain responses (brand-conditional where the brands differ); Python only
passes values (masked numbers, seconds) as template variables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.backend_client import BackendClient, BackendRefused, BackendUnavailable
from identity import (
    Identity,
    anonymous,
    identity_from_tracker,
    personal_data_customer,
)
from identity.brands import default_brand

log = logging.getLogger(__name__)

STEP_UP_REQUIRED = "step_up_required"
STEP_UP_PENDING_ACTION = "step_up_pending_action"
STEP_UP_CHALLENGE = "step_up_challenge"
STEP_UP_CUSTOMER = "step_up_customer"
STEP_UP_CODE_LENGTH = "step_up_code_length"


@dataclass
class Access:
    """The outcome of the guard: a customer id, or events explaining why not."""

    identity: Identity
    customer_id: str | None = None
    brand: str | None = None
    events: List[EventType] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return self.customer_id is not None


def conversation_brand(identity: Identity, tracker: Tracker) -> str:
    """The token's brand for a verified customer; otherwise the session's brand slot."""
    if identity.brand:
        return identity.brand
    return tracker.get_slot("brand") or default_brand()


def backend_down(dispatcher: CollectingDispatcher) -> None:
    """Backend unavailable/slow/erroring: say so and offer the support form."""
    dispatcher.utter_message(response="utter_backend_non_disponibile")


async def require_customer(
    dispatcher: CollectingDispatcher, tracker: Tracker, action_name: str | None
) -> Access:
    identity = identity_from_tracker(tracker)
    slots: Dict[str, Any] = dict(tracker.slots)
    customer_id = personal_data_customer(identity, slots)
    if customer_id is not None:
        try:
            same_brand = await customer_has_brand(customer_id, identity.brand)
        except BackendUnavailable:
            backend_down(dispatcher)
            return Access(identity, events=[SlotSet(STEP_UP_REQUIRED, False)])
        if not same_brand:
            log.warning("identity refused: reason=wrong_brand kind=%s", identity.kind)
            identity = anonymous("wrong_brand")
        else:
            brand = conversation_brand(identity, tracker)
            return Access(identity, customer_id, brand, [SlotSet(STEP_UP_REQUIRED, False)])
    if identity.kind == "whatsapp":
        return Access(identity, events=await start_step_up(dispatcher, identity, action_name))
    if identity.kind == "staff":
        dispatcher.utter_message(response="utter_staff_non_supportato")
    else:
        dispatcher.utter_message(response="utter_identificazione_necessaria")
    return Access(identity, events=[SlotSet(STEP_UP_REQUIRED, False)])


async def verified_customer(tracker: Tracker) -> str | None:
    """Whose data this turn may touch, with the brand check :func:`require_customer` makes,
    without saying anything: forms call it on every answer, so that a token for the wrong
    brand opens nothing there either. Raises BackendUnavailable."""
    identity = identity_from_tracker(tracker)
    customer_id = personal_data_customer(identity, dict(tracker.slots))
    if customer_id is None or not await customer_has_brand(customer_id, identity.brand):
        return None
    return customer_id


async def form_customer(dispatcher: CollectingDispatcher, tracker: Tracker) -> str | None:
    """:func:`verified_customer` for a form's answer; says why when there is none."""
    try:
        customer_id = await verified_customer(tracker)
    except BackendUnavailable:
        backend_down(dispatcher)
        return None
    if customer_id is None:
        dispatcher.utter_message(response="utter_identificazione_necessaria")
    return customer_id


async def customer_has_brand(customer_id: str, brand: str | None) -> bool:
    """Whether the backend's record of this customer belongs to ``brand``.

    ``None`` (a WhatsApp number without a configured brand) checks nothing: the sender
    proved the number by OTP, and the number's lookup already spans the brands served.
    An unknown customer is not of any brand. Raises BackendUnavailable.
    """
    if brand is None:
        return True
    try:
        record = await BackendClient().get_customer(customer_id)
    except BackendRefused:
        return False
    return record.get("brand") == brand


async def whatsapp_customer(identity: Identity) -> str | None:
    """The customer whose dispositive mobile is this WhatsApp sender's number.

    Raises BackendUnavailable. None when no customer (or more than one) has that number as
    dispositive mobile: we cannot tell whose data it would be.
    """
    try:
        matches = await BackendClient().lookup_customers(
            mobile=identity.phone, brand=identity.brand
        )
    except BackendRefused:
        return None
    dispositive = [
        m for m in matches
        if "dispositive" in ((m.get("matched_contact") or {}).get("roles") or [])
    ]
    ids = {str((m.get("customer") or {}).get("id")) for m in dispositive}
    return ids.pop() if len(ids) == 1 else None


async def start_step_up(
    dispatcher: CollectingDispatcher, identity: Identity, action_name: str | None
) -> List[EventType]:
    """Send a step-up code to the WhatsApp sender's customer; events that open the form."""
    try:
        customer_id = await whatsapp_customer(identity)
        if customer_id is None:
            dispatcher.utter_message(response="utter_whatsapp_numero_non_registrato")
            return [SlotSet(STEP_UP_REQUIRED, False)]
        challenge = await BackendClient().create_otp_challenge(customer_id, "step_up")
    except BackendUnavailable:
        backend_down(dispatcher)
        return [SlotSet(STEP_UP_REQUIRED, False)]
    except BackendRefused as refusal:
        explain_otp_refusal(dispatcher, refusal)
        return [SlotSet(STEP_UP_REQUIRED, False)]
    dispatcher.utter_message(
        response="utter_step_up_codice_inviato",
        destinazione=challenge.get("destination_masked") or identity.phone_masked,
        cifre=challenge.get("code_length") or "",
    )
    return [
        SlotSet(STEP_UP_REQUIRED, True),
        SlotSet(STEP_UP_PENDING_ACTION, action_name),
        SlotSet(STEP_UP_CHALLENGE, str(challenge["challenge_id"])),
        SlotSet(STEP_UP_CUSTOMER, str(customer_id)),
        SlotSet(STEP_UP_CODE_LENGTH, float(challenge.get("code_length") or 0) or None),
        SlotSet("step_up_code", None),
        SlotSet("form_failures", 0.0),
    ]


def wait_text(seconds: int | None) -> str:
    """``30 secondi`` / ``1 minuto`` / ``12 minuti``: when a new code may be asked."""
    if seconds is None or seconds <= 0:
        return "qualche istante"
    if seconds < 90:
        return f"{seconds} secondi" if seconds != 1 else "1 secondo"
    minutes = (seconds + 59) // 60
    return f"{minutes} minuti"


def explain_otp_refusal(dispatcher: CollectingDispatcher, refusal: BackendRefused) -> None:
    """The backend would not send a code: cooldown, hourly cap, no usable mobile..."""
    code = refusal.code
    if code in ("otp_cooldown", "otp_hourly_limit"):
        dispatcher.utter_message(
            response=f"utter_{code}", attesa=wait_text(refusal.retry_after_seconds)
        )
    elif code in ("no_dispositive_mobile", "dispositive_mobile_unconfirmed"):
        dispatcher.utter_message(response=f"utter_{code}")
    elif code == "sms_delivery_failed":
        dispatcher.utter_message(response="utter_sms_non_inviato")
    else:
        log.info("otp refused: %s", code)
        dispatcher.utter_message(response="utter_richiesta_non_riuscita")
