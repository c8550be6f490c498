"""What an identity token must say: issuers, audience, lifetimes and claim shapes.

Kept apart from the code that signs (identity/minting.py) and verifies
(identity/tokens.py) so that both read one table and cannot drift.

Three token kinds, all HS256 JWTs with ``aud`` = ``"assistente"``; the issuer picks the
secret (identity/keys.py), so a key for one kind can never mint another:

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
"""

from __future__ import annotations

import re
from typing import Literal

from identity.phones import E164_RE

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

ISSUER_CUSTOMER = "area-clienti-web"
ISSUER_STAFF = "area-clienti-staff"
ISSUER_CHANNEL = "assistente-channel"
ISSUER_STEP_UP = "assistente-step-up"  # our own slot marker; never accepted as an identity

STAFF_ROLES = ("agency_employee", "agency_manager")
CHANNEL_WHATSAPP = "whatsapp"

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # safe as a URL path segment
AGENCY_RE = re.compile(r"^[A-Z]{2}-[A-Z]{2}-\d{3,4}$")  # the backend's agency codes

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

__all__ = [
    "AGENCY_RE", "ALGORITHM", "AUDIENCE", "CHANNEL_WHATSAPP", "E164_RE", "ID_RE",
    "ISSUER_CHANNEL", "ISSUER_CUSTOMER", "ISSUER_STAFF", "ISSUER_STEP_UP", "LEEWAY_SECONDS",
    "MAX_LIFETIME_SECONDS", "MAX_TOKEN_CHARS", "STAFF_ROLES", "TOKEN_METADATA_KEY", "Kind",
    "Level", "Reason",
]
