"""Validation and normalisation of Italian identifiers and contacts.

Pure functions, no I/O: the API, the seed data and the tests share them. Each
``validate_*`` returns the normalised value or raises :class:`InvalidValue` whose
``code`` is the machine-readable error the API returns. The checks themselves are
python-stdnum's (codice fiscale, partita IVA, IBAN) and phonenumbers' (libphonenumber's
data), not hand-written tables; building codes for the seed data stays here.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

import phonenumbers
from brand_registry import policy_prefix_pattern, registry
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from stdnum import iban, luhn
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.it import codicefiscale, iva

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
_CF_LAYOUT = "codice fiscale must be 16 characters in the standard layout"


def fiscal_code_check_char(first15: str) -> str:
    """Check character (16th) of a codice fiscale from its first 15 characters."""
    if len(first15) != 15:
        raise InvalidValue("invalid_fiscal_code", "need the first 15 characters")
    return codicefiscale.calc_check_digit(first15.upper())


def _birth_day(code: str) -> int:
    return int("".join(str(_OMOCODIA.index(c)) if c in _OMOCODIA else c for c in code[9:11]))


def validate_fiscal_code(raw: str) -> str:
    """Normalised (upper-case, no spaces) codice fiscale; omocodic codes are accepted.

    python-stdnum checks layout, check character and birth date; a person's code has 16
    characters (stdnum also takes a company's 11 digits), and its day field is 01-31 or
    41-71 (stdnum reads it modulo 40).
    """
    code = re.sub(r"\s+", "", str(raw)).upper()
    if len(code) != 16:
        raise InvalidValue("invalid_fiscal_code", _CF_LAYOUT)
    try:
        code = codicefiscale.validate(code)
    except InvalidChecksum:
        raise InvalidValue("invalid_fiscal_code", "codice fiscale check character does not match") from None
    except InvalidComponent:
        raise InvalidValue("invalid_fiscal_code", "codice fiscale holds an impossible birth date") from None
    except ValidationError:
        raise InvalidValue("invalid_fiscal_code", _CF_LAYOUT) from None
    day = _birth_day(code)
    if not (1 <= day <= 31 or 41 <= day <= 71):
        raise InvalidValue("invalid_fiscal_code", "codice fiscale holds an impossible birth date")
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
    """Check digit (11th) of a partita IVA: the Luhn digit of the first 10."""
    if not re.fullmatch(r"\d{10}", first10):
        raise InvalidValue("invalid_vat_number", "need the first 10 digits")
    return int(luhn.calc_check_digit(first10))


def validate_partita_iva(raw: str) -> str:
    """Normalised partita IVA (11 digits; an ``IT`` prefix, spaces and dots are dropped).

    python-stdnum checks the length, the office code (digits 8-10: a province, 120, 121,
    888 or 999) and the Luhn check digit.
    """
    value = re.sub(r"[\s.]+", "", str(raw)).upper()
    try:
        return iva.validate(value)
    except InvalidChecksum:
        raise InvalidValue("invalid_vat_number", "partita IVA check digit does not match") from None
    except InvalidComponent:
        raise InvalidValue("invalid_vat_number", "partita IVA names no tax office") from None
    except ValidationError:
        raise InvalidValue("invalid_vat_number", "partita IVA must be 11 digits") from None


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

# phonenumbers reads letters as keypad digits: only digits and separators are let through.
_PHONE_WRITTEN_RE = re.compile(r"^\+?[\d\s\-./()]{3,30}$")
# An Italian contact is a mobile or a landline (no VoIP, premium or toll-free numbers).
_IT_CONTACT_TYPES = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE)


def validate_phone(raw: str) -> str:
    """E.164 phone number; numbers without a country code are taken as Italian (+39).

    Accepts ``+39 333 123 4567``, ``0039 333...``, ``333-1234567``, ``39 333 1234567``.
    phonenumbers (libphonenumber's data) decides whether the number exists; an Italian one
    must be a mobile or a landline.
    """
    value = str(raw).strip()
    if not _PHONE_WRITTEN_RE.match(value):
        raise InvalidValue("invalid_phone", "phone number may only hold digits, spaces and +")
    try:
        number = phonenumbers.parse(value, "IT")
    except NumberParseException:
        raise InvalidValue("invalid_phone", "not a valid phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("invalid_phone", "not a valid phone number")
    if number.country_code == 39 and phonenumbers.number_type(number) not in _IT_CONTACT_TYPES:
        raise InvalidValue("invalid_phone", "not a valid Italian phone number")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def is_italian_mobile(e164: str) -> bool:
    try:
        number = phonenumbers.parse(e164, "IT")
    except NumberParseException:
        return False
    return (
        number.country_code == 39
        and phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
    )


# --- IBAN (account for surrender/claim payouts) ---------------------------------------


def validate_iban(raw: str) -> str:
    """Normalised IBAN: python-stdnum checks the mod-97 digits and the country's layout
    (Italian IBANs: 27 characters, CIN letter, ABI, CAB, account)."""
    value = re.sub(r"\s+", "", str(raw)).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", value):
        raise InvalidValue("invalid_iban", "IBAN must be a country code, 2 check digits and the account")
    if value.startswith("IT") and len(value) != 27:
        raise InvalidValue("invalid_iban", "an Italian IBAN has 27 characters")
    try:
        return iban.validate(value)
    except InvalidChecksum:
        raise InvalidValue("invalid_iban", "IBAN check digits do not match") from None
    except ValidationError:
        raise InvalidValue("invalid_iban", "IBAN does not follow its country's layout") from None
