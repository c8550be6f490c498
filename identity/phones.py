"""Phone numbers: parsed and normalised to E.164 with phonenumbers (libphonenumber's data).

Why a library: which Italian prefixes are mobiles, how long a number may be and how people
write them (``+39``, ``0039``, none, spaces, dots, brackets) changes with the numbering
plan; libphonenumber keeps up, a hand-written regex does not. Numbers written without a
country code are read as Italian. Finding a number inside free text stays a regex job
(bot/redaction.py, actions/staff_lookup.py): this module decides what a found one is.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberType

DEFAULT_REGION = "IT"
ITALY_CALLING_CODE = 39
# The exact shape a channel puts into a token (Twilio gives the sender this way); a shape
# check only, so that a new number range missing from the library's data is not refused.
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
# phonenumbers reads letters as keypad digits («1-800-FLOWERS»): only digits and the
# separators people type are accepted before it parses.
_WRITTEN_RE = re.compile(r"^\+?[\d\s().\-/]{3,30}$")
_MOBILE_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def parse_phone(raw: Any, region: str = DEFAULT_REGION) -> PhoneNumber | None:
    """The number as written (no country code: ``region``'s), or None when it is no number."""
    if not isinstance(raw, str) or not _WRITTEN_RE.match(raw.strip()):
        return None
    try:
        return phonenumbers.parse(raw.strip(), region)
    except NumberParseException:
        return None


def e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_e164(raw: Any, region: str = DEFAULT_REGION, *, strict: bool = True) -> str | None:
    """``+39 333 123 4567`` / ``0039...`` / ``333...`` -> ``+393331234567``, else None.

    ``strict``: the number must exist in the numbering plan (``is_valid_number``); without
    it, a plausible length is enough (looking up what an old conversation was keyed by).
    """
    number = parse_phone(raw, region)
    if number is None:
        return None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(
        number)
    return e164(number) if ok else None


def is_italian_mobile(number: PhoneNumber) -> bool:
    return (number.country_code == ITALY_CALLING_CODE
            and phonenumbers.is_valid_number(number)
            and phonenumbers.number_type(number) in _MOBILE_TYPES)


def valid_mobile(raw: Any) -> str | None:
    """E.164 of an Italian mobile (``+39 3xx...``), else None: landlines, foreign numbers
    and garbage are not where an OTP or a WhatsApp message can go."""
    number = parse_phone(raw)
    return e164(number) if number is not None and is_italian_mobile(number) else None


def is_e164(value: Any) -> bool:
    """Shaped like E.164 (``+`` and 7-15 digits), as tokens and Twilio carry numbers."""
    return isinstance(value, str) and E164_RE.match(value) is not None


def mask_phone(value: str) -> str:
    """``+393331234567`` -> ``+39 *** *** 4567``: the last 4 digits (and an Italian prefix),
    as the backend shows them; also for numbers as written in a text (``0039...``, ``333...``).
    """
    digits = re.sub(r"\D", "", value)
    if len(digits) < 4:
        return "***"
    prefix = "+39 " if value.startswith(("+39", "0039")) else ("+" if "+" in value else "")
    return f"{prefix}*** *** {digits[-4:]}"


__all__ = [
    "DEFAULT_REGION", "E164_RE", "ITALY_CALLING_CODE", "e164", "is_e164", "is_italian_mobile",
    "mask_phone", "parse_phone", "to_e164", "valid_mobile",
]
