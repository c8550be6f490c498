"""Who the action server may treat as identified, re-derived on every action.

Identity comes only from a signed token that a channel put into the user message's
metadata under ``identity_token``. Anything else in the metadata (``customer_id``,
``brand``, ``role``...) is client-controlled on some channels (the REST channel passes the
client's ``metadata`` through), so it grants nothing. The token is verified again on every
action, so an expired token stops working mid-conversation; channels therefore attach it
to every message.

Three token kinds, all HS256 JWTs with ``aud`` = ``"assistente"``; the issuer picks the
secret, so a key for one kind can never mint another:

==========  =====================  ==========================  ===================================
kind        ``iss``                secret (env)                other required claims
==========  =====================  ==========================  ===================================
customer    ``area-clienti-web``   ``CUSTOMER_JWT_SECRET``     ``sub`` (backend customer id),
                                                               ``brand``, ``exp``, ``iat``
staff       ``area-clienti-staff`` ``STAFF_JWT_SECRET``        ``sub`` (staff id), ``role``,
                                                               ``agency``, ``exp``, ``iat``
whatsapp    ``assistente-channel`` ``CHANNEL_ASSERTION_SECRET`` ``channel`` = ``"whatsapp"``,
                                                               ``phone`` (E.164), ``exp``,
                                                               ``iat``; optional ``brand``
==========  =====================  ==========================  ===================================

Every token is short-lived by construction, not only by its ``exp``: ``iat`` is required,
a token issued in the future is refused, and ``exp - iat`` may not exceed the kind's
:data:`MAX_LIFETIME_SECONDS` (customer 1 h, staff 8 h, WhatsApp assertion 10 min). Without
that, whoever holds a signing key could mint a token valid for years, and a leaked one
would never stop working.

The ``brand`` of a customer token is the brand the insurer's site vouches for, not a fact
about the customer record: both brands share one customer-id space in the backend, so
the guard (actions/guard.py) also checks that the customer really belongs to that brand
before showing any data.

A WhatsApp sender is only *claimed*: personal data also needs an OTP step-up. The OTP
itself is checked by the backend (through the caller); this module only records and checks
its outcome (:func:`step_up_marker`, :func:`needs_step_up`), in a signed slot value so that
nothing but the action server can produce it.

Secrets shorter than 32 bytes are refused (RFC 7518 3.2); the development defaults below
are long enough and are announced with a warning when used.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping

import jwt
from jwt import exceptions as jwt_errors

from actions.brands import BRANDS

log = logging.getLogger(__name__)

TOKEN_METADATA_KEY = "identity_token"
AUDIENCE = "assistente"
# Fixed here, never taken from the token header: this is what rules out "none" and
# algorithm confusion.
ALGORITHM = "HS256"
LEEWAY_SECONDS = 30  # clock skew between the minting systems and us
# Longest accepted lifetime (exp - iat) per kind. Customer: the page asks for a fresh token
# at every reconnect. Staff: one working day. WhatsApp: one turn; the channel mints a new
# assertion for every message (bot/channels/whatsapp.py TOKEN_TTL_SECONDS, 10 minutes).
MAX_LIFETIME_SECONDS: dict[str, int] = {
    "customer": 60 * 60,
    "staff": 8 * 60 * 60,
    "whatsapp": 10 * 60,
}
MAX_TOKEN_CHARS = 4096  # a JWT with these few claims is ~400 chars; refuse junk early
MIN_SECRET_BYTES = 32

ISSUER_CUSTOMER = "area-clienti-web"
ISSUER_STAFF = "area-clienti-staff"
ISSUER_CHANNEL = "assistente-channel"
ISSUER_STEP_UP = "assistente-step-up"  # our own slot marker; never accepted as an identity

CUSTOMER_SECRET_ENV = "CUSTOMER_JWT_SECRET"
STAFF_SECRET_ENV = "STAFF_JWT_SECRET"
CHANNEL_SECRET_ENV = "CHANNEL_ASSERTION_SECRET"
DEV_SECRETS = {
    CUSTOMER_SECRET_ENV: "dev-customer-secret-change-me-0123456789",
    STAFF_SECRET_ENV: "dev-staff-secret-change-me-0123456789abc",
    CHANNEL_SECRET_ENV: "dev-channel-secret-change-me-0123456789a",
}

STAFF_ROLES = ("agency_employee", "agency_manager")
CHANNEL_WHATSAPP = "whatsapp"

STEP_UP_SLOT = "identity_step_up"
STEP_UP_TTL_SECONDS = 15 * 60

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # safe as a URL path segment
AGENCY_RE = re.compile(r"^[A-Z]{2}-[A-Z]{2}-\d{3,4}$")  # the backend's agency codes
E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")

Kind = Literal["anonymous", "customer", "staff", "whatsapp"]
Level = Literal["none", "claimed", "verified"]
# Why a token was refused (machine-readable, safe to log and to branch on).
Reason = Literal[
    "missing",
    "malformed",
    "bad_algorithm",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_issuer",
    "wrong_audience",
    "missing_claim",
    "invalid_claim",
    "lifetime_too_long",
    "not_configured",
    # Set by the guard, not here: a valid token whose brand is not the customer's brand.
    "wrong_brand",
]


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


def mask_phone(phone: str) -> str:
    """Keep only the last 4 digits (and an Italian prefix), as the backend does."""
    digits = re.sub(r"\D", "", phone)
    prefix = "+39 " if phone.startswith("+39") else "+"
    return f"{prefix}*** *** {digits[-4:]}" if len(digits) >= 4 else "***"


# --- secrets ------------------------------------------------------------------------

_warned_dev: set[str] = set()


class SecretNotConfigured(RuntimeError):
    """The secret for a token kind is missing or too short: no token of that kind verifies."""


def _production() -> bool:
    return (os.environ.get("ASSISTANT_ENV") or "").strip().lower() == "production"


def secret_for(env_name: str) -> str:
    """The secret from the environment (read each time, so rotation needs no restart).

    In production (``ASSISTANT_ENV=production``) the public development value is never
    used: anybody can read it in this repository and mint any identity with it.
    """
    value = os.environ.get(env_name)
    if _production() and value in (None, DEV_SECRETS[env_name]):
        raise SecretNotConfigured(f"{env_name} is unset or the development secret in production")
    if value is None:
        value = DEV_SECRETS[env_name]
        if env_name not in _warned_dev:
            _warned_dev.add(env_name)
            log.warning("%s not set: using the development secret", env_name)
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise SecretNotConfigured(f"{env_name} must be at least {MIN_SECRET_BYTES} bytes")
    return value


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


# --- WhatsApp step-up ---------------------------------------------------------------


def _phone_ref(phone: str, secret: str) -> str:
    """Keyed digest of the sender, so the slot binds to the number without holding it."""
    return hmac.new(secret.encode(), phone.encode(), hashlib.sha256).hexdigest()[:32]


def step_up_marker(
    identity: Identity,
    customer_id: str | int,
    ttl_seconds: int = STEP_UP_TTL_SECONDS,
    now: float | None = None,
) -> str:
    """Value for the ``identity_step_up`` slot once the backend verified the OTP.

    Signed, bound to the sender's number and short-lived: a slot set any other way (an
    injected event, a shorthand message) or carried to another number does not verify.
    """
    if identity.kind != "whatsapp" or not identity.phone:
        raise ValueError("a step-up applies to a WhatsApp sender only")
    customer = str(customer_id)
    if not ID_RE.match(customer):
        raise ValueError("invalid customer id")
    secret = secret_for(CHANNEL_SECRET_ENV)
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": ISSUER_STEP_UP,
        "aud": AUDIENCE,
        "sub": customer,
        "phone_ref": _phone_ref(identity.phone, secret),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def stepped_up_customer(identity: Identity, slots: Mapping[str, Any]) -> str | None:
    """The customer id a WhatsApp sender proved with an OTP, if still valid, else None."""
    marker = slots.get(STEP_UP_SLOT) if isinstance(slots, Mapping) else None
    if identity.kind != "whatsapp" or not identity.phone or not isinstance(marker, str):
        return None
    try:
        secret = secret_for(CHANNEL_SECRET_ENV)
        claims = jwt.decode(
            marker,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER_STEP_UP,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub", "phone_ref"]},
        )
    except (jwt_errors.InvalidTokenError, SecretNotConfigured):
        return None
    expected = _phone_ref(identity.phone, secret)
    if not hmac.compare_digest(str(claims.get("phone_ref")), expected):
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) and ID_RE.match(sub) else None


def needs_step_up(identity: Identity, slots: Mapping[str, Any]) -> bool:
    """True for a WhatsApp sender without a valid OTP step-up (others: never needed)."""
    return identity.kind == "whatsapp" and stepped_up_customer(identity, slots) is None


def personal_data_customer(identity: Identity, slots: Mapping[str, Any]) -> str | None:
    """Whose personal data this conversation may see, or None.

    A website customer: their own. A WhatsApp sender: the customer proved by the step-up.
    Staff and anonymous users: none (staff look customers up, scoped to their agency).
    """
    if identity.kind == "customer":
        return identity.customer_id
    if identity.kind == "whatsapp":
        return stepped_up_customer(identity, slots)
    return None
