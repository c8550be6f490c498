"""The brand registry: what each insurer has, from ``brands.yml``, for every process.

Why a data file: the backend stub (its own environment) and the Rasa side (actions,
channels, NLU helpers) must agree on the same facts, and adding a brand should be an entry
here plus its responses in domain/, not code. ``BRAND_REGISTRY_PATH`` points at another
file (tests add a third brand that way).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import yaml

REGISTRY_ENV = "BRAND_REGISTRY_PATH"
DEFAULT_PATH = Path(__file__).with_name("brands.yml")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Brand:
    code: str
    display_name: str
    aliases: tuple[str, ...]
    policy_prefix: str
    agency_prefix: str
    otp_digits: int
    otp_validity_seconds: int
    archive_months: int | None
    payment_methods: tuple[str, ...]
    card_networks: tuple[str, ...]
    consultant_appointment: bool
    # weekday index (0 = Monday) -> ((start, end), ...) as "HH:MM" strings
    phone_hours: Mapping[int, tuple[tuple[str, str], ...]]
    support_channels: tuple[str, ...]
    sms_template: str
    registration_needs_policy: bool = False
    registration_ended_policy_months: int | None = None
    # Days the brand's operators are away besides Italy's public holidays (handoff/).
    closed_days: tuple[date, ...] = ()


def _brand(code: str, raw: Mapping[str, Any]) -> Brand:
    otp = raw.get("otp") or {}
    pay = raw.get("payments") or {}
    support = raw.get("support") or {}
    hours = {
        WEEKDAYS.index(day): tuple((str(a), str(b)) for a, b in slots)
        for day, slots in (support.get("phone_hours") or {}).items()
    }
    return Brand(
        code=code,
        display_name=str(raw["display_name"]),
        aliases=tuple(str(a).lower() for a in raw.get("aliases") or (code,)),
        policy_prefix=str(raw["policy_prefix"]),
        agency_prefix=str(raw["agency_prefix"]),
        otp_digits=int(otp["digits"]),
        otp_validity_seconds=int(otp.get("validity_seconds") or 120),
        archive_months=raw.get("archive_months"),
        payment_methods=tuple(pay.get("methods") or ()),
        card_networks=tuple(pay.get("card_networks") or ()),
        consultant_appointment=bool(pay.get("consultant_appointment")),
        phone_hours=hours,
        support_channels=tuple(support.get("channels") or ()),
        sms_template=str(raw.get("sms_template") or "{code}"),
        registration_needs_policy=bool((raw.get("registration") or {}).get(
            "policy_number_required")),
        registration_ended_policy_months=(raw.get("registration") or {}).get(
            "ended_policy_months"),
        # YAML reads 2026-08-14 as a date already; a quoted one is parsed here.
        closed_days=tuple(sorted(date.fromisoformat(str(d))
                                 for d in support.get("closed_days") or ())),
    )


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Brand]:
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    return {code: _brand(code, entry) for code, entry in raw.items()}


def registry() -> dict[str, Brand]:
    """Every brand, in the file's order (the first is the fallback default)."""
    return _load(os.environ.get(REGISTRY_ENV) or str(DEFAULT_PATH))


def brand(code: str) -> Brand:
    """One brand; KeyError for a code that is not registered."""
    return registry()[code]


def codes() -> tuple[str, ...]:
    return tuple(registry())


def policy_prefix_pattern() -> str:
    """Regex alternation of the policy prefixes («AL|CV»), for building number patterns."""
    return "|".join(sorted({b.policy_prefix for b in registry().values()}))


def brand_for_prefix(code: str) -> str | None:
    """The brand whose policy or agency codes start with ``code`` («AL-MI-001», «CV2...»)."""
    upper = code.upper()
    for entry in registry().values():
        if upper.startswith(entry.agency_prefix) or upper.startswith(entry.policy_prefix):
            return entry.code
    return None
