"""Mint demo identity tokens for local testing (never for production use).

The tokens are the ones ``identity/tokens.py`` accepts, minted by ``identity/minting.py``
(the one place tokens are signed) with the same secrets
(env ``CUSTOMER_JWT_SECRET``, ``STAFF_JWT_SECRET``, ``CHANNEL_ASSERTION_SECRET``, else the
development defaults). Every token carries ``iat`` and may live at most as long as
``identity.MAX_LIFETIME_SECONDS`` allows for its kind (customer 60 minutes, staff
8 hours, WhatsApp 10 minutes): a longer ``--ttl`` is refused here rather than minted and
refused later. Put the output into the message metadata as ``identity_token``:

    .venv/bin/python scripts/mint_token.py --customer 1 --brand alleanza
    .venv/bin/python scripts/mint_token.py --staff S-042 --role agency_employee --agency AL-MI-001
    .venv/bin/python scripts/mint_token.py --whatsapp +393331234567 --ttl 5
    .venv/bin/python scripts/mint_token.py --customer 7 --brand cavita --json   # REST metadata
    .venv/bin/python scripts/mint_token.py --operator OP-1 --brands alleanza,cavita  # console

Operator tokens (``OPERATOR_JWT_SECRET``, identity/operators.py) open the operators' console
at /webhooks/operators/; they name the brands whose conversations the operator serves and
live at most 8 hours (default 480 minutes, ``--role supervisor`` for a supervisor).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from identity import STAFF_ROLES, TOKEN_METADATA_KEY, normalise_brand  # noqa: E402
from identity.minting import (  # noqa: E402
    DEFAULT_TTL_MINUTES,
    WHATSAPP_TTL_MINUTES,
    mint_channel_assertion,
    mint_customer_token,
    mint_staff_token,
)
from identity.operators import (  # noqa: E402
    DEFAULT_OPERATOR_TTL_MINUTES,
    OPERATOR_ROLES,
    mint_operator_token,
)


def _ttl(given: float | None, default: float) -> float:
    return default if given is None else given


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer", metavar="ID", help="backend customer id (README demo table)")
    who.add_argument("--staff", metavar="ID", help="staff id")
    who.add_argument("--whatsapp", metavar="PHONE", help="sender number, E.164")
    who.add_argument("--operator", metavar="ID", help="operator id (operators' console)")
    parser.add_argument("--brands", help="operator's brands, comma-separated (with --operator)")
    parser.add_argument("--brand", help="alleanza or cavita (required with --customer)")
    parser.add_argument("--role", choices=(*STAFF_ROLES, *OPERATOR_ROLES),
                        help="staff: agency_employee (default) or agency_manager; "
                             "operator: operator (default) or supervisor")
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
                args.staff, args.role or STAFF_ROLES[0], args.agency,
                _ttl(args.ttl, DEFAULT_TTL_MINUTES)
            )
        elif args.operator is not None:
            if not args.brands:
                parser.error("--operator needs --brands")
            token = mint_operator_token(
                args.operator, args.role or OPERATOR_ROLES[0], args.brands.split(","),
                _ttl(args.ttl, DEFAULT_OPERATOR_TTL_MINUTES)
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
