"""The WhatsApp OTP step-up: a signed slot value saying "this sender proved customer N".

A WhatsApp sender is only *claimed* (identity/tokens.py): personal data also needs an OTP.
The OTP itself is checked by the backend (through the caller); this module only records
and checks its outcome, in a signed slot value so that nothing but the action server can
produce it, bound to the sender's number and short-lived.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any, Mapping

import jwt
from jwt import exceptions as jwt_errors

from identity.claims import ALGORITHM, AUDIENCE, ID_RE, ISSUER_STEP_UP, LEEWAY_SECONDS
from identity.keys import CHANNEL_SECRET_ENV, SecretNotConfigured, secret_for
from identity.minting import sign
from identity.tokens import Identity

STEP_UP_SLOT = "identity_step_up"
STEP_UP_TTL_SECONDS = 15 * 60


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
    return sign(claims, secret)


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


__all__ = [
    "STEP_UP_SLOT", "STEP_UP_TTL_SECONDS", "needs_step_up", "personal_data_customer",
    "step_up_marker", "stepped_up_customer",
]
