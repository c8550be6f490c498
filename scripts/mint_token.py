"""Mint demo identity tokens for local testing (never for production use).

The tokens are the ones ``actions/identity.py`` accepts, signed with the same secrets
(env ``CUSTOMER_JWT_SECRET``, ``STAFF_JWT_SECRET``, ``CHANNEL_ASSERTION_SECRET``, else the
development defaults). Every token carries ``iat`` and may live at most as long as
``actions.identity.MAX_LIFETIME_SECONDS`` allows for its kind (customer 60 minutes, staff
8 hours, WhatsApp 10 minutes): a longer ``--ttl`` is refused here rather than minted and
refused later. Put the output into the message metadata as ``identity_token``:

    .venv/bin/python scripts/mint_token.py --customer 1 --brand alleanza
    .venv/bin/python scripts/mint_token.py --staff S-042 --role agency_employee --agency AL-MI-001
    .venv/bin/python scripts/mint_token.py --whatsapp +393331234567 --ttl 5
    .venv/bin/python scripts/mint_token.py --customer 7 --brand cavita --json   # REST metadata
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import jwt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.brands import normalise_brand  # noqa: E402
from actions.identity import (  # noqa: E402
    AGENCY_RE,
    ALGORITHM,
    AUDIENCE,
    CHANNEL_SECRET_ENV,
    CHANNEL_WHATSAPP,
    CUSTOMER_SECRET_ENV,
    E164_RE,
    ID_RE,
    ISSUER_CHANNEL,
    ISSUER_CUSTOMER,
    ISSUER_STAFF,
    MAX_LIFETIME_SECONDS,
    STAFF_ROLES,
    STAFF_SECRET_ENV,
    TOKEN_METADATA_KEY,
    secret_for,
)

DEFAULT_TTL_MINUTES = 30  # customer and staff
# The channel mints one per message (bot/channels/whatsapp.py); the longest accepted.
WHATSAPP_TTL_MINUTES = MAX_LIFETIME_SECONDS["whatsapp"] / 60


def _sign(claims: dict[str, Any], secret_env: str, secret: str | None) -> str:
    return jwt.encode(claims, secret if secret is not None else secret_for(secret_env), ALGORITHM)


def _times(kind: str, ttl_minutes: float, now: float | None) -> dict[str, int]:
    """``iat`` and ``exp``; a negative ttl gives an expired token (tests, demo pages)."""
    lifetime, longest = int(ttl_minutes * 60), MAX_LIFETIME_SECONDS[kind]
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


def _ttl(given: float | None, default: float) -> float:
    return default if given is None else given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", metavar="ID", help="backend customer id (README demo table)")
    who.add_argument("--staff", metavar="ID", help="staff id")
    who.add_argument("--whatsapp", metavar="PHONE", help="sender number, E.164")
    parser.add_argument("--brand", help="alleanza or cavita (required with --customer)")
    parser.add_argument("--role", default="agency_employee", choices=STAFF_ROLES)
    parser.add_argument("--agency", help="agency code, e.g. AL-MI-001 (required with --staff)")
    parser.add_argument(
        "--ttl", type=float, help="minutes (customer, staff: 30, at most 60 / 480; whatsapp: 10)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the message metadata object instead"
    )
    args = parser.parse_args(argv)
    try:
        if args.customer is not None:
            if not args.brand:
                parser.error("--customer needs --brand")
            ttl = _ttl(args.ttl, DEFAULT_TTL_MINUTES)
            token = mint_customer_token(args.customer, args.brand, ttl)
        elif args.staff is not None:
            if not args.agency:
                parser.error("--staff needs --agency")
            token = mint_staff_token(
                args.staff, args.role, args.agency, _ttl(args.ttl, DEFAULT_TTL_MINUTES)
            )
        else:
            token = mint_channel_assertion(
                args.whatsapp, _ttl(args.ttl, WHATSAPP_TTL_MINUTES), brand=args.brand
            )
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        metadata = {TOKEN_METADATA_KEY: token}
        if args.brand:
            metadata["brand"] = normalise_brand(args.brand) or args.brand
        print(json.dumps(metadata))
    else:
        print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
