"""The signing secrets of the identity tokens, one per token kind, from the environment.

One place reads them so that the verifier (identity/tokens.py), the minting helpers
(identity/minting.py), the step-up marker and the channels can never disagree on which
secret a kind uses, or on the production rule below. Secrets shorter than 32 bytes are
refused (RFC 7518 3.2); the development defaults are long enough and are announced with a
warning when used.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32

CUSTOMER_SECRET_ENV = "CUSTOMER_JWT_SECRET"
STAFF_SECRET_ENV = "STAFF_JWT_SECRET"
CHANNEL_SECRET_ENV = "CHANNEL_ASSERTION_SECRET"
OPERATOR_SECRET_ENV = "OPERATOR_JWT_SECRET"  # the operators' console (identity/operators.py)
# Public (they are in this repository): refused when ASSISTANT_ENV=production.
DEV_SECRETS = {
    CUSTOMER_SECRET_ENV: "dev-customer-secret-change-me-0123456789",
    STAFF_SECRET_ENV: "dev-staff-secret-change-me-0123456789abc",
    CHANNEL_SECRET_ENV: "dev-channel-secret-change-me-0123456789a",
    OPERATOR_SECRET_ENV: "dev-operator-secret-change-me-0123456789",
}

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


__all__ = [
    "CHANNEL_SECRET_ENV", "CUSTOMER_SECRET_ENV", "DEV_SECRETS", "MIN_SECRET_BYTES",
    "OPERATOR_SECRET_ENV", "STAFF_SECRET_ENV", "SecretNotConfigured", "secret_for",
]
