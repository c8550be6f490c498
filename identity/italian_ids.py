"""Italian identifiers: codice fiscale, partita IVA and IBAN, checked with python-stdnum.

Why a library: the check-character tables, omocodia, the partita IVA's office codes and
each country's IBAN layout are easy to get subtly wrong by hand, and were written twice.
Each ``valid_*`` returns the normalised value (upper case, separators removed) or None, so
callers branch on one value. Finding an identifier inside free text stays a regex job in
the caller (stdnum validates, a regex finds); masking is here so every place shows the
same part of it.
"""

from __future__ import annotations

import re
from typing import Any

from stdnum import iban as _iban
from stdnum.exceptions import ValidationError
from stdnum.it import codicefiscale as _codicefiscale
from stdnum.it import iva as _iva

FISCAL_CODE_LENGTH = 16  # a person's; the 11-digit codes of companies are partite IVA
_OMOCODIA = "LMNPQRSTUV"  # letters that replace the digits 0-9 in omocodic codes


def _text(raw: Any, separators: str) -> str | None:
    return re.sub(separators, "", raw).upper() if isinstance(raw, str) else None


def _birth_day(code: str) -> int:
    return int("".join(str(_OMOCODIA.index(c)) if c in _OMOCODIA else c for c in code[9:11]))


def valid_fiscal_code(raw: Any) -> str | None:
    """A person's codice fiscale if layout, month, day and check character hold (omocodia
    accepted); spaces and case ignored.

    stdnum reads the day modulo 40; the day field is 01-31 (men) or 41-71 (women), so a
    day such as 81 is refused here as well.
    """
    code = _text(raw, r"\s+")
    if code is None or len(code) != FISCAL_CODE_LENGTH:
        return None
    try:
        code = _codicefiscale.validate(code)
    except ValidationError:
        return None
    day = _birth_day(code)
    return code if 1 <= day <= 31 or 41 <= day <= 71 else None


def fiscal_code_check_char(first15: str) -> str:
    """The 16th (check) character of a codice fiscale from its first 15 characters."""
    return _codicefiscale.calc_check_digit(first15.upper())


def valid_vat_number(raw: Any) -> str | None:
    """Partita IVA (11 digits; ``IT`` prefix, spaces and dots dropped) if its office code
    and Luhn check digit hold."""
    value = _text(raw, r"[\s.]+")
    if value is None:
        return None
    try:
        return _iva.validate(value)
    except ValidationError:
        return None


def valid_iban(raw: Any) -> str | None:
    """IBAN without spaces, upper case, if the mod-97 check digits and the country's layout
    hold (an Italian one: 27 characters, CIN letter, ABI, CAB, account)."""
    value = _text(raw, r"\s+")
    if value is None:
        return None
    try:
        return _iban.validate(value)
    except ValidationError:
        return None


def mask_fiscal_code(value: str) -> str:
    """``RSSMRA80A01H501U`` -> ``RSS************U``: enough to recognise, not to reuse."""
    return value[:3].upper() + "*" * 12 + value[-1:].upper()


def mask_vat_number(value: str) -> str:
    """``04123450159`` -> ``041*****159``."""
    return value[:3] + "*****" + value[-3:]


def mask_iban(value: str) -> str:
    """``IT60 X054 ... 3456`` -> ``IT** **** 3456``: the last 4 say which account it was."""
    compact = re.sub(r"[ -]", "", value)
    return f"{compact[:2].upper()}** **** {compact[-4:]}"


__all__ = [
    "FISCAL_CODE_LENGTH", "fiscal_code_check_char", "mask_fiscal_code",
    "mask_iban", "mask_vat_number", "valid_fiscal_code", "valid_iban", "valid_vat_number",
]
