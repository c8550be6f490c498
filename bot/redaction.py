"""What of a conversation may be written to disk: identity tokens dropped, personal data masked.

Pure functions on the plain dicts Rasa's events serialise to (``Event.as_dict()``), so the
tracker store (bot/tracker_store.py) and anything else that writes conversation data apply
one set of rules, and the rules are tested without a database. Every function returns a new
structure: the events of the running turn (which the actions still read) are never touched.

The rules:

* **Identity tokens** (``identity_token``, or any metadata key naming a token, secret or
  password) are dropped, and anything shaped like a JWT in a text becomes ``[token]``.
* **E-mail addresses** keep their first letter and domain: ``m***@example.it``.
* **IBANs** keep the country and the last 4 characters: ``IT** **** 3456``.
* **Codici fiscali** and **phone numbers** keep what the assistant itself shows
  (``RSS************U``, ``+39 *** *** 4567``).
* **Codes** a user types (a text that is, or contains, a lone 5-6 digit number) and the code
  slots are masked digit by digit. Only user texts get the code rule: amounts and ticket
  numbers in bot texts and slot values (installment ids ``id:N``) stay as they are.

Which slots the forms still need on a later turn (and the store keeps in clear for a while,
elsewhere) is :data:`LIVE_SLOTS`; bot/tracker_store.py says how.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from identity import mask_fiscal_code, mask_iban, mask_phone

TOKEN_MASK = "[token]"

# Metadata keys that never reach the disk: the identity token (identity/claims.py
# TOKEN_METADATA_KEY) and anything else named like a credential; the WhatsApp profile name
# is personal and nothing reads it after the turn.
DROPPED_METADATA_KEYS = frozenset({"identity_token", "profile_name"})
SECRET_KEY_RE = re.compile(r"token|secret|passw|jwt|authori[sz]ation|cookie|api_?key", re.I)

# Slots holding a code typed by the user (validated, then replaced, within the same turn).
CODE_SLOTS = frozenset({"step_up_code", "pay_otp"})
# Slots holding a signed marker (identity/step_up.py step_up_marker).
TOKEN_SLOTS = frozenset({"identity_step_up"})
# Slots holding the backend's own identifiers or the form's bookkeeping: never personal,
# and a masked id breaks the next call («ab12…» of a challenge id looks like an IBAN).
OPAQUE_SLOTS = frozenset({
    "step_up_challenge", "payment_challenge", "step_up_customer", "step_up_pending_action",
    "step_up_code_length", "pay_installments", "requested_slot", "policy_number", "sr_kind",
    "support_reason", "pay_method",
})
# Slots holding a message's metadata (Rasa's own, set at session start).
METADATA_SLOTS = frozenset({"session_started_metadata"})
# Slots a form reads again on a later turn whose values are personal: masked in the event
# log, their clear value kept apart while the conversation runs (bot/tracker_store.py).
LIVE_SLOTS = frozenset({
    "support_email", "support_text",          # support form
    "sr_iban", "sr_description",              # request to the agency
    "modulo_sospeso",                         # a paused form's answers, for «riprendi»
    "identity_step_up",                       # the WhatsApp step-up marker (15 minutes)
})

JWT_RE = re.compile(r"\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]{8,}")
EMAIL_RE = re.compile(
    r"(?<![\w.+%-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# Country, check digits, then groups of 4 (spaces or dashes allowed between groups only, so
# the words after an IBAN are not taken for its tail); lower-case input too.
IBAN_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]{4}){2,7}(?:[ -]?\d{1,3})?"
    r"(?![A-Za-z0-9])")
FISCAL_CODE_RE = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]{6}[0-9LMNP-V]{2}[A-Za-z][0-9LMNP-V]{2}[A-Za-z][0-9LMNP-V]{3}"
    r"[A-Za-z](?![A-Za-z0-9])", re.I)
PHONE_RE = re.compile(
    r"(?<![\w:+])(?:(?:\+|00)\d{2}[ .-]?)?3\d{2}[ .-]?\d{3}[ .-]?\d{3,4}(?![\w])"
    r"|(?<![\w:+])\+\d{8,15}(?!\w)")
# A lone 5-6 digit number (a code may be typed «123 456»); not part of an id (``id:12345``),
# a date, an amount with separators or a longer number.
CODE_RE = re.compile(r"(?<![\w:/.,€$-])(?:\d{5,6}|\d{3} \d{2,3})(?![\w/]|[.,]\d)")


def mask_email(match: re.Match[str]) -> str:
    return f"{match.group(1)}***@{match.group(2)}"


def mask_digits(value: str) -> str:
    return re.sub(r"\d", "*", value)


def redact_text(text: Any, codes: bool = False) -> Any:
    """``text`` with tokens, e-mails, IBANs, fiscal codes, phones (and codes) masked.

    ``codes``: also mask lone 5-6 digit numbers (user texts: what a typed OTP looks like).
    Anything that is not a string comes back unchanged; masking twice changes nothing.
    """
    if not isinstance(text, str) or not text:
        return text
    text = JWT_RE.sub(TOKEN_MASK, text)
    text = EMAIL_RE.sub(mask_email, text)
    text = IBAN_RE.sub(lambda m: mask_iban(m.group(0)) if _is_iban(m.group(0)) else m.group(0),
                       text)
    text = FISCAL_CODE_RE.sub(lambda m: mask_fiscal_code(m.group(0)), text)
    text = PHONE_RE.sub(lambda m: mask_phone(m.group(0)), text)
    if codes:
        text = CODE_RE.sub(lambda m: mask_digits(m.group(0)), text)
    return text


def _is_iban(candidate: str) -> bool:
    """Long enough and mostly digits: «IT60 X054 ...», not a word such as «ab12 cdef ghij».

    Deliberately not identity.valid_iban: a mistyped IBAN (wrong check digits) is still
    somebody's account number and is masked all the same.
    """
    compact = re.sub(r"[ -]", "", candidate)
    return 15 <= len(compact) <= 34 and sum(c.isdigit() for c in compact) >= len(compact) // 2


def redact_value(value: Any, codes: bool = False) -> Any:
    """Any JSON value: strings redacted, secret-named keys dropped, at every depth."""
    if isinstance(value, str):
        return redact_text(value, codes)
    if isinstance(value, Mapping):
        return {key: redact_value(item, codes) for key, item in value.items()
                if not _secret_key(key)}
    if isinstance(value, (list, tuple)):
        return [redact_value(item, codes) for item in value]
    return value


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and (key in DROPPED_METADATA_KEYS
                                     or bool(SECRET_KEY_RE.search(key)))


def redact_metadata(metadata: Any) -> Any:
    """Message metadata without identity tokens or the profile name; brand, channel and the
    NLU's ``context`` stay (nothing secret, and the history reads better with them)."""
    return redact_value(metadata) if isinstance(metadata, Mapping) else metadata


def redact_slot(name: Any, value: Any) -> Any:
    """What a slot's value may look like on disk."""
    if value is None or name in OPAQUE_SLOTS:
        return value
    if name in CODE_SLOTS:
        return mask_digits(value) if isinstance(value, str) else value
    if name in TOKEN_SLOTS:
        return TOKEN_MASK
    if name in METADATA_SLOTS:
        return redact_metadata(value)
    return redact_value(value)


def _redact_parse_data(parse_data: Any) -> Any:
    """Every string in it redacted (whatever a component added); the text and the entity
    values, which are what the user typed, with the code rule too."""
    if not isinstance(parse_data, Mapping):
        return parse_data
    redacted = redact_value(parse_data)
    if "text" in parse_data:
        redacted["text"] = redact_text(parse_data["text"], codes=True)
    if isinstance(parse_data.get("entities"), list):
        redacted["entities"] = _redact_entities(parse_data["entities"])
    return redacted


def _redact_entities(entities: list[Any]) -> list[Any]:
    return [{**redact_value(entity), "value": redact_value(entity.get("value"), codes=True)}
            if isinstance(entity, Mapping) and "value" in entity else redact_value(entity)
            for entity in entities]


def redact_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as it may be written: a new dict, ``event`` itself is left as it is."""
    redacted = dict(event)
    if "metadata" in redacted:
        redacted["metadata"] = redact_metadata(redacted["metadata"])
    kind = redacted.get("event")
    if kind == "user":
        redacted["text"] = redact_text(redacted.get("text"), codes=True)
        redacted["parse_data"] = _redact_parse_data(redacted.get("parse_data"))
    elif kind == "bot":  # a summary repeats the e-mail; buttons and custom data too
        redacted["text"] = redact_text(redacted.get("text"))
        redacted["data"] = redact_value(redacted.get("data"))
    elif kind == "slot":
        redacted["value"] = redact_slot(redacted.get("name"), redacted.get("value"))
    elif kind == "entities" and isinstance(redacted.get("entities"), list):
        redacted["entities"] = _redact_entities(redacted["entities"])
    return redacted
