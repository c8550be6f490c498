"""Masking of personal data for API responses and logs (design: contacts shown masked)."""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException


def mask_phone(e164: str) -> str:
    """``+393331234567`` -> ``+39 *** *** 4567`` (country code and last 4 digits kept).

    The country code comes from phonenumbers (any country, 1 to 3 digits); a number it
    cannot read shows its first 2 digits.
    """
    digits = e164.lstrip("+")
    try:
        code = str(phonenumbers.parse("+" + digits).country_code)
    except NumberParseException:
        code = digits[:2]
    return f"+{code} *** *** {digits[-4:]}"


def mask_email(email: str) -> str:
    """``mario.rossi@example.it`` -> ``m***@example.it``."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_fiscal_code(code: str) -> str:
    """``RSSMRA80A01H501U`` -> ``RSS************U`` (enough to recognise, not to reuse)."""
    return code[:3] + "*" * (len(code) - 4) + code[-1:] if len(code) > 4 else "****"


def mask_contact(kind: str, value: str) -> str:
    return mask_phone(value) if kind == "mobile" else mask_email(value)


_CF_IN_TEXT = re.compile(
    r"\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b", re.IGNORECASE
)
_CODE_LIKE = re.compile(r"(?<![\w*\[])\d{5,8}(?![\w*\]])")  # not [pid]
_PAY_TOKEN = re.compile(r"/pay/[A-Za-z0-9_\-]+")
_HEX_ID = re.compile(r"\b([0-9a-f]{6})[0-9a-f]{26}\b")  # OTP challenge ids


def redact_text(text: str) -> str:
    """Defence in depth for log lines: codici fiscali, code-like digit runs, tokens and challenge ids."""
    text = _CF_IN_TEXT.sub(lambda m: mask_fiscal_code(m.group(0).upper()), text)
    text = _PAY_TOKEN.sub("/pay/***", text)
    text = _HEX_ID.sub(lambda m: m.group(1) + "…", text)
    return _CODE_LIKE.sub(lambda m: "*" * len(m.group(0)), text)
