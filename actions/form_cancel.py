"""Cancelling a form from inside it, decided on what the customer wrote, not on NLU alone.

Why: inside a form people answer with one word ("navigazione", "visa", an e-mail) and the
intent classifier has no context for those; a short answer classified as `annulla` used to
throw the whole form away. Here a cancel needs both signals: a cancel word in the text
(«annulla», «lascia stare», «basta», ...) and either the `annulla` intent or a message that
is nothing but the cancel phrase. The answers already given are kept aside for «riprendi»
(actions/form_resume.py).
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Dict

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

SUSPENDED_SLOT = "modulo_sospeso"
ABORTED = "__interrotto__"
# What each form may carry over to «riprendi»: answers, not confirmations or codes.
RESUMABLE_SLOTS: Dict[str, tuple[str, ...]] = {
    "support_form": ("support_email", "support_reason", "support_text"),
    "service_request_form": (
        "sr_kind", "policy_number", "sr_event_date", "sr_description", "sr_iban", "sr_amount",
        "sr_effective_date",
    ),
    "payment_form": ("policy_number", "pay_installments", "pay_method"),
}
CANCEL_WORDS = re.compile(
    r"\b(annull\w*|lascia(mo)? (stare|perdere|star)|basta|stop|interromp\w*|esci|"
    r"ferma\w*|smetti|cambiato idea|non (voglio|mi interessa) piu|non importa|"
    r"cancella\w*|torna indietro|lascia)\b"
)
MAX_CANCEL_WORDS = 8  # longer texts are answers that happen to contain "basta", "lascia"...


def plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def wants_to_cancel(tracker: Tracker) -> bool:
    message = tracker.latest_message or {}
    text = plain(str(message.get("text") or "")).strip(" .!?")
    if not text or text.startswith("/") or "@" in text or any(c.isdigit() for c in text):
        return False
    words = text.split()
    if len(words) > MAX_CANCEL_WORDS or not CANCEL_WORDS.search(text):
        return False
    intent = (message.get("intent") or {}).get("name")
    return intent == "annulla" or len(words) <= 3


def saved_answers(tracker: Tracker, form: str | None) -> str | None:
    """The validated answers of `form` as JSON for «riprendi», or None if there are none.

    The slot being asked right now holds the text being judged, not an answer: skipped."""
    if form not in RESUMABLE_SLOTS:
        return None
    asked = tracker.get_slot("requested_slot")
    answers = {
        slot: value
        for slot in RESUMABLE_SLOTS[form]
        if slot != asked and (value := tracker.get_slot(slot)) not in (None, "", ABORTED)
    }
    if not answers:
        return None
    return json.dumps({"form": form, "slots": answers}, ensure_ascii=False)


def cancel_message(dispatcher: CollectingDispatcher, saved: str | None) -> None:
    dispatcher.utter_message(response="utter_modulo_sospeso" if saved else "utter_modulo_annullato")
