"""Validation and normalisation of Italian identifiers and contacts.

Pure functions, no I/O: the API, the seed data and the tests share them. Each
``validate_*`` returns the normalised value or raises :class:`InvalidValue` whose
``code`` is the machine-readable error the API returns.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from brand_registry import policy_prefix_pattern, registry

__all__ = [
    "InvalidValue",
    "build_fiscal_code",
    "fiscal_code_check_char",
    "is_italian_mobile",
    "is_valid_fiscal_code",
    "is_valid_partita_iva",
    "omocode",
    "partita_iva_check_digit",
    "policy_number_brand",
    "validate_email",
    "validate_fiscal_code",
    "validate_iban",
    "validate_partita_iva",
    "validate_phone",
    "validate_policy_number",
]


class InvalidValue(ValueError):
    """A value that fails validation; ``code`` is stable, ``message`` is for humans."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- codice fiscale ---------------------------------------------------------------

_OMOCODIA = "LMNPQRSTUV"  # letters that replace digits 0-9 in omocodic codes
_OMOCODIA_POSITIONS = (6, 7, 9, 10, 12, 13, 14)  # digit positions that may be replaced
_MONTHS = "ABCDEHLMPRST"  # January .. December
_D = "[0-9LMNPQRSTUV]"
_CF_RE = re.compile(rf"^[A-Z]{{6}}{_D}{{2}}[{_MONTHS}]{_D}{{2}}[A-Z]{_D}{{3}}[A-Z]$")
# Values of characters in odd positions (1st, 3rd, ... i.e. index 0, 2, ...).
_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        [
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            1,
            0,
            5,
            7,
            9,
            13,
            15,
            17,
            19,
            21,
            2,
            4,
            18,
            20,
            11,
            3,
            6,
            8,
            12,
            14,
            16,
            10,
            22,
            25,
            24,
            23,
        ],
        strict=True,
    )
)
_EVEN = {**{str(d): d for d in range(10)}, **{chr(65 + i): i for i in range(26)}}


def fiscal_code_check_char(first15: str) -> str:
    """Check character (16th) of a codice fiscale from its first 15 characters."""
    if len(first15) != 15:
        raise InvalidValue("invalid_fiscal_code", "need the first 15 characters")
    total = sum((_ODD if i % 2 == 0 else _EVEN)[ch] for i, ch in enumerate(first15.upper()))
    return chr(65 + total % 26)


def _decode_omocodia(code: str) -> str:
    chars = list(code)
    for pos in _OMOCODIA_POSITIONS:
        if chars[pos] in _OMOCODIA:
            chars[pos] = str(_OMOCODIA.index(chars[pos]))
    return "".join(chars)


def validate_fiscal_code(raw: str) -> str:
    """Normalised (upper-case, no spaces) codice fiscale; omocodic codes are accepted."""
    code = re.sub(r"\s+", "", str(raw)).upper()
    if not _CF_RE.match(code):
        raise InvalidValue("invalid_fiscal_code", "codice fiscale must be 16 characters in the standard layout")
    plain = _decode_omocodia(code)
    year, day = int(plain[6:8]), int(plain[9:11])
    month = _MONTHS.index(plain[8]) + 1
    if day > 40:
        day -= 40
    days_in_month = [31, 29 if year % 4 == 0 else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    if not 1 <= day <= days_in_month:
        raise InvalidValue("invalid_fiscal_code", "codice fiscale holds an impossible birth date")
    if fiscal_code_check_char(code[:15]) != code[15]:
        raise InvalidValue("invalid_fiscal_code", "codice fiscale check character does not match")
    return code


def is_valid_fiscal_code(raw: str) -> bool:
    try:
        validate_fiscal_code(raw)
    except InvalidValue:
        return False
    return True


def _letters(text: str) -> tuple[str, str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
    plain = re.sub(r"[^A-Z]", "", plain)
    consonants = "".join(c for c in plain if c not in "AEIOU")
    vowels = "".join(c for c in plain if c in "AEIOU")
    return consonants, vowels


def build_fiscal_code(surname: str, name: str, birth: date, sex: str, place_code: str) -> str:
    """Codice fiscale of a person (used for seed data; the check character is computed)."""
    s_cons, s_vow = _letters(surname)
    n_cons, n_vow = _letters(name)
    surname_part = (s_cons + s_vow + "XXX")[:3]
    name_part = n_cons[0] + n_cons[2] + n_cons[3] if len(n_cons) >= 4 else (n_cons + n_vow + "XXX")[:3]
    day = birth.day + (40 if sex.upper() == "F" else 0)
    first15 = f"{surname_part}{name_part}{birth.year % 100:02d}{_MONTHS[birth.month - 1]}{day:02d}{place_code.upper()}"
    return first15 + fiscal_code_check_char(first15)


def omocode(code: str, level: int = 1) -> str:
    """Omocodic variant: the last ``level`` digit positions replaced by letters."""
    chars = list(validate_fiscal_code(code)[:15])
    for pos in reversed(_OMOCODIA_POSITIONS[-level:] if level else ()):
        if chars[pos].isdigit():
            chars[pos] = _OMOCODIA[int(chars[pos])]
    first15 = "".join(chars)
    return first15 + fiscal_code_check_char(first15)


# --- partita IVA --------------------------------------------------------------------


def partita_iva_check_digit(first10: str) -> int:
    """Check digit (11th) of a partita IVA (Luhn-like, doubling even positions)."""
    if not re.fullmatch(r"\d{10}", first10):
        raise InvalidValue("invalid_vat_number", "need the first 10 digits")
    total = 0
    for i, ch in enumerate(first10):
        digit = int(ch)
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def validate_partita_iva(raw: str) -> str:
    """Normalised partita IVA (11 digits; an ``IT`` prefix and spaces are dropped)."""
    value = re.sub(r"[\s.]+", "", str(raw)).upper()
    value = value.removeprefix("IT")
    if not re.fullmatch(r"\d{11}", value) or value == "0" * 11:
        raise InvalidValue("invalid_vat_number", "partita IVA must be 11 digits")
    if partita_iva_check_digit(value[:10]) != int(value[10]):
        raise InvalidValue("invalid_vat_number", "partita IVA check digit does not match")
    return value


def is_valid_partita_iva(raw: str) -> bool:
    try:
        validate_partita_iva(raw)
    except InvalidValue:
        return False
    return True


# --- policy numbers -----------------------------------------------------------------

# Format chosen for the stub: brand prefix (AL = Alleanza, CV = CA Vita) + 8 digits.
POLICY_PREFIXES = {b.policy_prefix: b.code for b in registry().values()}
_POLICY_RE = re.compile(rf"^({policy_prefix_pattern()})\d{{8}}$")


def validate_policy_number(raw: str) -> str:
    """Normalised policy number: ``AL12345678`` / ``CV12345678`` (spaces, dashes, case ignored)."""
    value = re.sub(r"[\s\-/.]+", "", str(raw)).upper()
    if not _POLICY_RE.match(value):
        raise InvalidValue("invalid_policy_number", "policy number must be AL or CV followed by 8 digits")
    return value


def policy_number_brand(number: str) -> str:
    return POLICY_PREFIXES[validate_policy_number(number)[:2]]


# --- email --------------------------------------------------------------------------

_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)


def validate_email(raw: str) -> str:
    """Normalised (trimmed, lower-case) email address; a pragmatic subset of RFC 5322."""
    value = str(raw).strip().lower()
    local, _, _domain = value.partition("@")
    if len(value) > 254 or len(local) > 64 or not _EMAIL_RE.match(value):
        raise InvalidValue("invalid_email", "not a valid email address")
    return value


# --- phone numbers ------------------------------------------------------------------

_IT_NATIONAL_RE = re.compile(r"^(3\d{8,9}|0\d{5,10})$")


def validate_phone(raw: str) -> str:
    """E.164 phone number; numbers without a country code are taken as Italian (+39).

    Accepts ``+39 333 123 4567``, ``0039 333...``, ``333-1234567``, ``39 333 1234567``.
    Italian numbers must look like a mobile (3xx, 9-10 digits) or a landline (0x).
    """
    value = re.sub(r"[\s\-./()]+", "", str(raw))
    if value.startswith("00"):
        value = "+" + value[2:]
    if value.startswith("+"):
        digits = value[1:]
        if not re.fullmatch(r"[1-9]\d{6,14}", digits):
            raise InvalidValue("invalid_phone", "phone number must be + and 7 to 15 digits")
        if digits.startswith("39") and not _IT_NATIONAL_RE.match(digits[2:]):
            raise InvalidValue("invalid_phone", "not a valid Italian phone number")
        return "+" + digits
    if not value.isdigit():
        raise InvalidValue("invalid_phone", "phone number may only hold digits, spaces and +")
    if _IT_NATIONAL_RE.match(value):
        return "+39" + value
    if value.startswith("39") and _IT_NATIONAL_RE.match(value[2:]):
        return "+" + value
    raise InvalidValue("invalid_phone", "not a valid Italian phone number")


def is_italian_mobile(e164: str) -> bool:
    return re.fullmatch(r"\+393\d{8,9}", e164) is not None


# --- IBAN (account for surrender/claim payouts) ---------------------------------------


def validate_iban(raw: str) -> str:
    """Normalised IBAN (ISO 13616 mod-97 check); Italian IBANs must be 27 characters."""
    value = re.sub(r"\s+", "", str(raw)).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", value):
        raise InvalidValue("invalid_iban", "IBAN must be a country code, 2 check digits and the account")
    if value.startswith("IT") and len(value) != 27:
        raise InvalidValue("invalid_iban", "an Italian IBAN has 27 characters")
    rearranged = value[4:] + value[:4]
    number = int("".join(str(int(ch, 36)) for ch in rearranged))
    if number % 97 != 1:
        raise InvalidValue("invalid_iban", "IBAN check digits do not match")
    return value
