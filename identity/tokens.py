"""Who a message comes from: the identity token in its metadata, verified on every action.

Identity comes only from a signed token that a channel put into the user message's
metadata under ``identity_token``. Anything else in the metadata (``customer_id``,
``brand``, ``role``...) is client-controlled on some channels (the REST channel passes the
client's ``metadata`` through), so it grants nothing. The token is verified again on every
action, so an expired token stops working mid-conversation; channels therefore attach it
to every message. What each kind must carry is in identity/claims.py.

The ``brand`` of a customer token is the brand the insurer's site vouches for, not a fact
about the customer record: both brands share one customer-id space in the backend, so
the guard (actions/guard.py) also checks that the customer really belongs to that brand
before showing any data. A WhatsApp sender is only *claimed*: personal data also needs an
OTP step-up (identity/step_up.py).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jwt
from jwt import exceptions as jwt_errors

from identity.brands import BRANDS
from identity.claims import (
    AGENCY_RE,
    ALGORITHM,
    AUDIENCE,
    CHANNEL_WHATSAPP,
    E164_RE,
    ID_RE,
    ISSUER_CHANNEL,
    ISSUER_CUSTOMER,
    ISSUER_STAFF,
    LEEWAY_SECONDS,
    MAX_LIFETIME_SECONDS,
    MAX_TOKEN_CHARS,
    STAFF_ROLES,
    TOKEN_METADATA_KEY,
    Kind,
    Level,
    Reason,
)
from identity.keys import (
    CHANNEL_SECRET_ENV,
    CUSTOMER_SECRET_ENV,
    STAFF_SECRET_ENV,
    SecretNotConfigured,
    secret_for,
)
from identity.phones import mask_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identity:
    """What the channel vouched for in this message; anonymous unless a token verified."""

    kind: Kind = "anonymous"
    level: Level = "none"
    channel: str | None = None
    customer_id: str | None = None
    brand: str | None = None
    staff_id: str | None = None
    role: str | None = None
    agency: str | None = None
    # Kept out of repr() so that logging an Identity never prints a full number.
    phone: str | None = field(default=None, repr=False)
    expires_at: int | None = None
    reason: Reason | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"

    @property
    def phone_masked(self) -> str | None:
        """``+39 *** *** 4567``-style, for messages and logs."""
        return mask_phone(self.phone) if self.phone else None


ANONYMOUS = Identity()


def anonymous(reason: Reason) -> Identity:
    return Identity(reason=reason)


# --- claim checks per kind ----------------------------------------------------------


class _InvalidClaim(ValueError):
    pass


def _text(claims: Mapping[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not pattern.match(value):
        raise _InvalidClaim(name)
    return value


def _brand(claims: Mapping[str, Any], required: bool) -> str | None:
    value = claims.get("brand")
    if value is None and not required:
        return None
    if value not in BRANDS:
        raise _InvalidClaim("brand")
    return str(value)


def _customer(claims: Mapping[str, Any]) -> Identity:
    return Identity(
        kind="customer",
        level="verified",
        channel="web",
        customer_id=_text(claims, "sub", ID_RE),
        brand=_brand(claims, required=True),
        expires_at=int(claims["exp"]),
    )


def _staff(claims: Mapping[str, Any]) -> Identity:
    role = claims.get("role")
    if role not in STAFF_ROLES:
        raise _InvalidClaim("role")
    return Identity(
        kind="staff",
        level="verified",
        channel="staff",
        staff_id=_text(claims, "sub", ID_RE),
        role=str(role),
        agency=_text(claims, "agency", AGENCY_RE),
        expires_at=int(claims["exp"]),
    )


def _whatsapp(claims: Mapping[str, Any]) -> Identity:
    if claims.get("channel") != CHANNEL_WHATSAPP:
        raise _InvalidClaim("channel")
    return Identity(
        kind="whatsapp",
        level="claimed",
        channel=CHANNEL_WHATSAPP,
        phone=_text(claims, "phone", E164_RE),
        brand=_brand(claims, required=False),
        expires_at=int(claims["exp"]),
    )


@dataclass(frozen=True)
class _Spec:
    kind: Kind
    secret_env: str
    required: tuple[str, ...]
    build: Callable[[Mapping[str, Any]], Identity]

    @property
    def max_lifetime(self) -> int:
        return MAX_LIFETIME_SECONDS[self.kind]


_TIMES = ("iss", "aud", "exp", "iat")
_SPECS: dict[str, _Spec] = {
    ISSUER_CUSTOMER: _Spec("customer", CUSTOMER_SECRET_ENV, (*_TIMES, "sub", "brand"), _customer),
    ISSUER_STAFF: _Spec("staff", STAFF_SECRET_ENV, (*_TIMES, "sub", "role", "agency"), _staff),
    ISSUER_CHANNEL: _Spec(
        "whatsapp", CHANNEL_SECRET_ENV, (*_TIMES, "channel", "phone"), _whatsapp
    ),
}


def _timing_problem(claims: Mapping[str, Any], spec: _Spec, now: float) -> Reason | None:
    """Issued in the future, or meant to live longer than its kind may: refuse.

    Checked here rather than left to PyJWT, whose own ``iat`` handling changed across 2.x
    releases: the rule must not move with a library upgrade.
    """
    issued, expires = claims.get("iat"), claims.get("exp")
    numbers = (int, float)
    if isinstance(issued, bool) or isinstance(expires, bool):
        return "invalid_claim"
    if not isinstance(issued, numbers) or not isinstance(expires, numbers):
        return "invalid_claim"
    if issued > now + LEEWAY_SECONDS:
        return "not_yet_valid"
    if expires - issued > spec.max_lifetime:
        return "lifetime_too_long"
    return None


# Most specific first: InvalidSignatureError is a DecodeError, Expired is an InvalidToken...
_REASONS: tuple[tuple[type[Exception], Reason], ...] = (
    (jwt_errors.ExpiredSignatureError, "expired"),
    (jwt_errors.ImmatureSignatureError, "not_yet_valid"),
    (jwt_errors.InvalidSignatureError, "bad_signature"),
    (jwt_errors.InvalidAlgorithmError, "bad_algorithm"),
    (jwt_errors.InvalidAudienceError, "wrong_audience"),
    (jwt_errors.InvalidIssuerError, "wrong_issuer"),
    (jwt_errors.MissingRequiredClaimError, "missing_claim"),
    (jwt_errors.InvalidIssuedAtError, "invalid_claim"),
    (jwt_errors.InvalidSubjectError, "invalid_claim"),
    (jwt_errors.DecodeError, "malformed"),
    (jwt_errors.InvalidTokenError, "malformed"),
)


def _refuse(reason: Reason, issuer: str | None = None) -> Identity:
    # Only our fixed issuer names are logged: never the token, its claims or a raw `iss`.
    log.warning("identity token refused: reason=%s issuer=%s", reason, issuer or "-")
    return anonymous(reason)


def verify_token(token: Any) -> Identity:
    """Verify one identity token; any doubt gives an anonymous identity with a reason."""
    if token is None or token == "":
        return anonymous("missing")
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return _refuse("malformed")
    try:
        header = jwt.get_unverified_header(token)
        # Unverified read only to choose the issuer's secret; everything is checked below.
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt_errors.InvalidTokenError:
        return _refuse("malformed")
    if header.get("alg") != ALGORITHM:
        return _refuse("bad_algorithm")
    issuer = unverified.get("iss")
    spec = _SPECS.get(issuer) if isinstance(issuer, str) else None
    if spec is None:
        return _refuse("wrong_issuer")
    try:
        secret = secret_for(spec.secret_env)
    except SecretNotConfigured as exc:
        log.error("identity tokens from %s cannot be verified: %s", issuer, exc)
        return anonymous("not_configured")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(spec.required)},
        )
        problem = _timing_problem(claims, spec, time.time())
        if problem is not None:
            return _refuse(problem, issuer)
        return spec.build(claims)
    except _InvalidClaim:
        return _refuse("invalid_claim", issuer)
    except jwt_errors.InvalidTokenError as exc:
        reason = next(r for cls, r in _REASONS if isinstance(exc, cls))
        return _refuse(reason, issuer)


def identity_from_metadata(metadata: Any) -> Identity:
    """Identity from a message's metadata: only ``identity_token`` counts."""
    if not isinstance(metadata, Mapping):
        return anonymous("missing")
    return verify_token(metadata.get(TOKEN_METADATA_KEY))


def identity_from_tracker(tracker: Any) -> Identity:
    """Identity for the current action, from the latest user message (never from slots)."""
    latest = getattr(tracker, "latest_message", None) or {}
    return identity_from_metadata(latest.get("metadata"))


__all__ = [
    "ANONYMOUS", "Identity", "anonymous", "identity_from_metadata", "identity_from_tracker",
    "verify_token",
]
