"""The one place identity tokens are signed.

The WhatsApp channel (one assertion per message), the demo-token endpoints of the chat and
staff pages, scripts/mint_token.py and the tests all mint here, so every token made on
our side carries ``iat``, fits its kind's lifetime (identity/claims.py) and is signed with
its kind's secret (identity/keys.py): a helper cannot mint what the verifier would refuse.
The step-up marker (identity/step_up.py) is signed through :func:`sign` too.

Outside development, customer and staff tokens come from the insurer's website and staff
portal; these helpers stand for them locally.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from identity.brands import normalise_brand
from identity.claims import (
    AGENCY_RE,
    ALGORITHM,
    AUDIENCE,
    CHANNEL_WHATSAPP,
    ID_RE,
    ISSUER_CHANNEL,
    ISSUER_CUSTOMER,
    ISSUER_STAFF,
    MAX_LIFETIME_SECONDS,
    STAFF_ROLES,
)
from identity.keys import CHANNEL_SECRET_ENV, CUSTOMER_SECRET_ENV, STAFF_SECRET_ENV, secret_for
from identity.phones import E164_RE

DEFAULT_TTL_MINUTES = 30  # customer and staff
# The channel mints one per message (bot/channels/whatsapp.py); the longest accepted.
WHATSAPP_TTL_MINUTES = MAX_LIFETIME_SECONDS["whatsapp"] / 60


def sign(claims: dict[str, Any], secret: str) -> str:
    """HS256 over ``claims``: the algorithm is fixed here as the verifier fixes it."""
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _sign(claims: dict[str, Any], secret_env: str, secret: str | None) -> str:
    return sign(claims, secret if secret is not None else secret_for(secret_env))


def _times(kind: str, ttl_minutes: float, now: float | None) -> dict[str, int]:
    """``iat`` and ``exp``; a negative ttl gives an expired token (tests, demo pages)."""
    lifetime, longest = round(ttl_minutes * 60), MAX_LIFETIME_SECONDS[kind]
    if lifetime > longest:
        raise ValueError(f"ttl: a {kind} token lives at most {longest // 60} minutes")
    issued = int(time.time() if now is None else now)
    return {"iat": issued, "exp": issued + lifetime}


def mint_customer_token(
    customer_id: str | int,
    brand: str,
    ttl_minutes: float = DEFAULT_TTL_MINUTES,
    *,
    secret: str | None = None,
    now: float | None = None,
) -> str:
    """What the insurer's website would hand to the chat widget for a logged-in customer."""
    sub = str(customer_id)
    normalised = normalise_brand(brand)
    if not ID_RE.match(sub):
        raise ValueError("customer id: letters, digits, '-' or '_' only")
    if normalised is None:
        raise ValueError("brand must be alleanza or cavita")
    claims = {"iss": ISSUER_CUSTOMER, "aud": AUDIENCE, "sub": sub, "brand": normalised}
    return _sign({**claims, **_times("customer", ttl_minutes, now)}, CUSTOMER_SECRET_ENV, secret)


def mint_staff_token(
    staff_id: str,
    role: str,
    agency: str,
    ttl_minutes: float = DEFAULT_TTL_MINUTES,
    *,
    secret: str | None = None,
    now: float | None = None,
) -> str:
    """What the agency staff portal would hand to the staff chat."""
    if not ID_RE.match(staff_id):
        raise ValueError("staff id: letters, digits, '-' or '_' only")
    if role not in STAFF_ROLES:
        raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}")
    if not AGENCY_RE.match(agency):
        raise ValueError("agency looks like AL-MI-001")
    claims = {"iss": ISSUER_STAFF, "aud": AUDIENCE, "sub": staff_id, "role": role, "agency": agency}
    return _sign({**claims, **_times("staff", ttl_minutes, now)}, STAFF_SECRET_ENV, secret)


def mint_channel_assertion(
    phone: str,
    ttl_minutes: float = WHATSAPP_TTL_MINUTES,
    *,
    brand: str | None = None,
    secret: str | None = None,
    now: float | None = None,
) -> str:
    """What our WhatsApp channel asserts about a Twilio-verified sender (E.164 number)."""
    if not E164_RE.match(phone):
        raise ValueError("phone must be E.164, e.g. +393331234567")
    claims: dict[str, Any] = {
        "iss": ISSUER_CHANNEL,
        "aud": AUDIENCE,
        "channel": CHANNEL_WHATSAPP,
        "phone": phone,
    }
    if brand is not None:
        normalised = normalise_brand(brand)
        if normalised is None:
            raise ValueError("brand must be alleanza or cavita")
        claims["brand"] = normalised
    return _sign({**claims, **_times("whatsapp", ttl_minutes, now)}, CHANNEL_SECRET_ENV, secret)


__all__ = [
    "DEFAULT_TTL_MINUTES", "WHATSAPP_TTL_MINUTES", "mint_channel_assertion",
    "mint_customer_token", "mint_staff_token", "sign",
]
