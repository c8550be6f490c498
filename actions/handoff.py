"""A person when the customer asks for one: the operators' queue, or a callback request.

``action_richiedi_operatore`` runs for ``richiesta_operatore`` (any phrasing, the «Parlare
con un operatore» button offered after two misses in a row, and the anger/insistence
trigger of bot/channels/handoff_triggers.py, which sends the same intent with
``metadata.handoff_reason = "anger"``).

* Widget (``web:``) and WhatsApp (``whatsapp:``), operators of the brand in hours (Italian
  holidays and the brand's closing days included, handoff/hours.py) and at least one online
  (a console that asked for the queue lately, handoff/presence.py): the conversation joins
  its brand's queue with the reason and identity level; the customer is told the position
  and expected wait, and the assistant is paused (``ConversationPaused``): from now on the
  customer's messages are kept for the operator and the assistant stays silent until the
  operator hands the conversation back (bot/channels/operators.py) or the customer leaves.
* Same channels, out of hours or nobody online: said plainly, with the next opening. A
  WhatsApp sender or a verified website customer gets a callback request carrying a masked
  summary of the conversation (the console lists them); everyone then gets the contacts
  answer (hours, agency, and the button opening the support form: a ticket answered by
  e-mail), so a visitor, whose contact we do not know, can still leave a written request.
* REST and staff conversations have no live chat: the contacts answer
  (``utter_richiesta_operatore``), as before.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.guard import conversation_brand
from actions.suggestions import missed_before
from handoff import HandoffQueue, IdentityLevel, Reason, brand_hours
from handoff.presence import Presence
from handoff.settings import HandoffSettings
from handoff.transcript import expected_wait_minutes, summary
from identity import Identity, identity_from_tracker, stepped_up_customer

log = logging.getLogger(__name__)

LIVE_CHANNELS = ("web", "whatsapp")
REASON_KEY = "handoff_reason"
WEEKDAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica")
MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto",
          "settembre", "ottobre", "novembre", "dicembre")


@lru_cache(maxsize=4)
def _queue(url: str) -> HandoffQueue:
    return HandoffQueue(url)


@lru_cache(maxsize=4)
def _presence(url: str, online_seconds: float) -> Presence:
    return Presence(url, online_seconds=online_seconds)


def handoff_open(conversation_id: str) -> bool:
    """Whether the conversation is waiting for, or held by, an operator (never raises: a
    queue that cannot be read must not stop a session from starting)."""
    if channel_of(conversation_id) not in LIVE_CHANNELS:
        return False
    try:
        return _queue(HandoffSettings.from_env().database_url).active(conversation_id) is not None
    except Exception:
        log.warning("handoff queue unavailable at session start", exc_info=True)
        return False


def channel_of(conversation_id: str) -> str:
    """``web``, ``whatsapp``, ``rest``, ``staff``: every channel namespaces its ids."""
    return conversation_id.split(":", 1)[0] if ":" in conversation_id else "rest"


def identity_level(identity: Identity, slots: Dict[str, Any]) -> IdentityLevel:
    if identity.kind == "customer":
        return IdentityLevel.VERIFIED_CUSTOMER
    if stepped_up_customer(identity, slots):
        return IdentityLevel.WHATSAPP_STEPPED_UP
    return IdentityLevel.VISITOR


def reason_for(tracker: Tracker) -> Reason:
    metadata = (tracker.latest_message or {}).get("metadata") or {}
    if isinstance(metadata, dict) and metadata.get(REASON_KEY) == Reason.ANGER.value:
        return Reason.ANGER
    if missed_before(tracker):
        return Reason.TWO_MISUNDERSTANDINGS
    return Reason.EXPLICIT_REQUEST


def italian_when(at: datetime, now: datetime) -> str:
    """«oggi alle 14:30», «domani alle 9:00», «martedì 7 aprile alle 9:00»."""
    clock = f"{at.hour}:{at.minute:02d}"
    days = (at.date() - now.date()).days
    if days == 0:
        return f"oggi alle {clock}"
    if days == 1:
        return f"domani alle {clock}"
    return f"{WEEKDAYS[at.weekday()]} {at.day} {MONTHS[at.month - 1]} alle {clock}"


def why_not_now(hours: Any, now: datetime, online: int) -> tuple[str, str]:
    """(why no operator now, when they are next in), both as Italian phrases."""
    holiday = hours.closed.reason(now.date())
    if hours.is_open(now):
        closes = hours.closes_at(now)
        return ("al momento nessun operatore è collegato",
                f"più tardi (oggi l'assistenza è aperta fino alle {closes:%H:%M})")
    opening = hours.next_opening(now)
    when = italian_when(opening, now) if opening else "in orario d'ufficio"
    if holiday:
        return f"oggi è festivo ({holiday}) e gli operatori non sono in servizio", when
    return "siamo fuori dall'orario dell'assistenza", when


class ActionRichiediOperatore(Action):
    """Queue for a live operator, or a callback request / support form (module docstring)."""

    def name(self) -> str:
        return "action_richiedi_operatore"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: Dict[str, Any]) -> List[EventType]:
        conversation = tracker.sender_id
        channel = channel_of(conversation)
        if channel not in LIVE_CHANNELS:
            dispatcher.utter_message(response="utter_richiesta_operatore")
            return []
        identity = identity_from_tracker(tracker)
        brand = conversation_brand(identity, tracker)
        level = identity_level(identity, dict(tracker.slots))
        reason = reason_for(tracker)
        settings = HandoffSettings.from_env()
        queue = _queue(settings.database_url)
        presence = _presence(settings.database_url, settings.online_seconds)
        hours = brand_hours(brand, settings, clock=settings.clock)
        now = settings.clock()
        online = presence.online(brand)
        if hours.is_open(now) and online > 0:
            queue.enqueue(conversation, channel, brand, level, reason)
            position = queue.position_of(conversation) or 1
            minutes = expected_wait_minutes(position, online, settings.minutes_per_conversation)
            log.info("handoff: %s queued (brand=%s reason=%s level=%s position=%d)",
                     channel, brand, reason.value, level.value, position)
            attesa = "circa 1 minuto" if minutes == 1 else f"circa {minutes} minuti"
            dispatcher.utter_message(response="utter_operatore_in_coda", posizione=position,
                                     attesa=attesa)
            return [ConversationPaused()]
        motivo, riapertura = why_not_now(hours, now, online)
        dispatcher.utter_message(response="utter_operatore_non_disponibile", motivo=motivo,
                                 riapertura=riapertura)
        if channel == "whatsapp" or level is IdentityLevel.VERIFIED_CUSTOMER:
            presence.ask_callback(conversation, channel, brand, level, reason,
                                  summary(tracker.events))
            recapito = ("al numero da cui scrivi" if channel == "whatsapp"
                        else "ai recapiti registrati nella tua Area Clienti")
            log.info("handoff: callback requested on %s (brand=%s, operators %s)",
                     channel, brand, "busy" if hours.is_open(now) else "out of hours")
            dispatcher.utter_message(response="utter_operatore_richiamata", recapito=recapito)
        # The contacts, hours and the support form button, as where there is no live chat.
        dispatcher.utter_message(response="utter_richiesta_operatore")
        return []

__all__ = ["ActionRichiediOperatore", "channel_of", "italian_when", "why_not_now"]
