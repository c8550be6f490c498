"""Operator tokens: who may use the operators' console, with which role and for which brands.

Why a fourth token kind with its own issuer and secret (``OPERATOR_JWT_SECRET``): an
operator reads and writes any waiting conversation of the brands they serve, which is more
than an agency employee (one agency) or a customer (one conversation) may do. A staff or
customer token must never open the console, and the staff portal's key must never mint an
operator. The token says ``sub`` (operator id), ``role`` (:data:`OPERATOR_ROLES`), ``brands``
(a non-empty list of registered brands), and the usual ``iss``/``aud``/``iat``/``exp``; it
lives at most :data:`MAX_OPERATOR_LIFETIME_SECONDS` (one shift, 8 hours).

Outside development the insurers' operator portal mints these; here
``scripts/mint_token.py --operator OP-1 --brands alleanza,cavita`` and the console's demo
login (``DEMO_PAGES=1`` only) stand for it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt import exceptions as jwt_errors

from identity.brands import BRANDS, normalise_brand
from identity.claims import ALGORITHM, AUDIENCE, ID_RE, LEEWAY_SECONDS, MAX_TOKEN_CHARS
from identity.keys import OPERATOR_SECRET_ENV, SecretNotConfigured, secret_for

log = logging.getLogger(__name__)

ISSUER_OPERATOR = "area-clienti-operators"
OPERATOR_ROLES = ("operator", "supervisor")
MAX_OPERATOR_LIFETIME_SECONDS = 8 * 60 * 60
DEFAULT_OPERATOR_TTL_MINUTES = 8 * 60
_REQUIRED = ("iss", "aud", "exp", "iat", "sub", "role", "brands")


@dataclass(frozen=True)
class Operator:
    """A verified operator: id, role and the brands whose conversations they serve."""

    operator_id: str
    role: str
    brands: tuple[str, ...]
    expires_at: int

    def serves(self, brand: str) -> bool:
        return brand in self.brands


@dataclass(frozen=True)
class OperatorRefusal:
    """Why a token did not open the console (``expired``, ``invalid``, ``not_configured``)."""

    reason: str


def _brands(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("brands")
    brands = tuple(dict.fromkeys(normalise_brand(b) for b in value))
    if any(b not in BRANDS for b in brands):
        raise ValueError("brands")
    return brands  # type: ignore[return-value]


def mint_operator_token(operator_id: str, role: str, brands: list[str] | tuple[str, ...],
                        ttl_minutes: float = DEFAULT_OPERATOR_TTL_MINUTES, *,
                        secret: str | None = None, now: float | None = None) -> str:
    """What the operator portal would hand to the console (development, scripts, tests)."""
    if not ID_RE.match(operator_id):
        raise ValueError("operator id: letters, digits, '-' or '_' only")
    if role not in OPERATOR_ROLES:
        raise ValueError(f"role must be one of {', '.join(OPERATOR_ROLES)}")
    checked = _brands(list(brands))
    lifetime = round(ttl_minutes * 60)
    if lifetime > MAX_OPERATOR_LIFETIME_SECONDS:
        raise ValueError("ttl: an operator token lives at most 480 minutes")
    issued = int(time.time() if now is None else now)
    claims = {"iss": ISSUER_OPERATOR, "aud": AUDIENCE, "sub": operator_id, "role": role,
              "brands": list(checked), "iat": issued, "exp": issued + lifetime}
    return jwt.encode(claims, secret or secret_for(OPERATOR_SECRET_ENV), algorithm=ALGORITHM)


def verify_operator_token(token: Any) -> Operator | OperatorRefusal:
    """The operator a token names, or why it was refused (never raises)."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        return OperatorRefusal("invalid")
    try:
        secret = secret_for(OPERATOR_SECRET_ENV)
    except SecretNotConfigured as exc:
        log.error("operator tokens cannot be verified: %s", exc)
        return OperatorRefusal("not_configured")
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=AUDIENCE,
                            issuer=ISSUER_OPERATOR, leeway=LEEWAY_SECONDS,
                            options={"require": list(_REQUIRED)})
    except jwt_errors.ExpiredSignatureError:
        return OperatorRefusal("expired")
    except jwt_errors.InvalidTokenError:
        return OperatorRefusal("invalid")
    issued, expires = claims.get("iat"), claims.get("exp")
    if (not isinstance(issued, (int, float)) or issued > time.time() + LEEWAY_SECONDS
            or expires - issued > MAX_OPERATOR_LIFETIME_SECONDS):
        return OperatorRefusal("invalid")
    operator_id, role = claims.get("sub"), claims.get("role")
    try:
        brands = _brands(claims.get("brands"))
    except ValueError:
        return OperatorRefusal("invalid")
    if not isinstance(operator_id, str) or not ID_RE.match(operator_id) or (
            role not in OPERATOR_ROLES):
        return OperatorRefusal("invalid")
    return Operator(operator_id, str(role), brands, int(expires))


__all__ = [
    "DEFAULT_OPERATOR_TTL_MINUTES", "ISSUER_OPERATOR", "MAX_OPERATOR_LIFETIME_SECONDS",
    "OPERATOR_ROLES", "Operator", "OperatorRefusal", "mint_operator_token",
    "verify_operator_token",
]
