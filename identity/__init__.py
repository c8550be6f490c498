"""Identity, brands and Italian identifiers: one package for channels, actions and scripts.

Why a top-level package: the channels (bot/channels), the NLU scope, the tracker store,
the actions and the scripts all need the same rules for who is identified and how an
Italian identifier is checked; keeping them under ``actions`` made the channels import the
action server, and the checks had been written again where they were needed. The backend
stub is a separate service and does not import this package.

Modules, one job each:

* ``claims``      - what a token must say (issuers, audience, lifetimes, claim shapes);
* ``keys``        - the signing secret of each token kind, from the environment;
* ``tokens``      - verifying a token into an :class:`Identity` (on every action);
* ``minting``     - the one place tokens are signed (channel, demo pages, scripts, tests);
* ``step_up``     - the WhatsApp OTP step-up marker;
* ``brands``      - mapping what a channel sends to a registered brand;
* ``italian_ids`` - codice fiscale, partita IVA, IBAN (python-stdnum);
* ``phones``      - phone numbers to E.164, Italian mobiles (phonenumbers).
"""

from __future__ import annotations

from identity.brands import (
    BRANDS,
    DEFAULT_BRAND_ENV,
    Brand,
    brand,
    brand_facts,
    brand_from_metadata,
    default_brand,
    normalise_brand,
)
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
    ISSUER_STEP_UP,
    LEEWAY_SECONDS,
    MAX_LIFETIME_SECONDS,
    MAX_TOKEN_CHARS,
    STAFF_ROLES,
    TOKEN_METADATA_KEY,
    Kind,
    Level,
    Reason,
)
from identity.italian_ids import (
    fiscal_code_check_char,
    mask_fiscal_code,
    mask_iban,
    mask_vat_number,
    valid_fiscal_code,
    valid_iban,
    valid_vat_number,
)
from identity.keys import (
    CHANNEL_SECRET_ENV,
    CUSTOMER_SECRET_ENV,
    DEV_SECRETS,
    MIN_SECRET_BYTES,
    STAFF_SECRET_ENV,
    SecretNotConfigured,
    secret_for,
)
from identity.minting import (
    DEFAULT_TTL_MINUTES,
    WHATSAPP_TTL_MINUTES,
    mint_channel_assertion,
    mint_customer_token,
    mint_staff_token,
)
from identity.phones import is_e164, mask_phone, to_e164, valid_mobile
from identity.step_up import (
    STEP_UP_SLOT,
    STEP_UP_TTL_SECONDS,
    needs_step_up,
    personal_data_customer,
    step_up_marker,
    stepped_up_customer,
)
from identity.tokens import (
    ANONYMOUS,
    Identity,
    anonymous,
    identity_from_metadata,
    identity_from_tracker,
    verify_token,
)

__all__ = [
    "AGENCY_RE", "ALGORITHM", "ANONYMOUS", "AUDIENCE", "BRANDS", "CHANNEL_SECRET_ENV",
    "CHANNEL_WHATSAPP", "CUSTOMER_SECRET_ENV", "DEFAULT_BRAND_ENV", "DEFAULT_TTL_MINUTES",
    "DEV_SECRETS", "E164_RE", "ID_RE", "ISSUER_CHANNEL", "ISSUER_CUSTOMER", "ISSUER_STAFF",
    "ISSUER_STEP_UP", "LEEWAY_SECONDS", "MAX_LIFETIME_SECONDS", "MAX_TOKEN_CHARS",
    "MIN_SECRET_BYTES", "STAFF_ROLES", "STAFF_SECRET_ENV", "STEP_UP_SLOT", "STEP_UP_TTL_SECONDS",
    "TOKEN_METADATA_KEY", "WHATSAPP_TTL_MINUTES", "Brand", "Identity", "Kind", "Level",
    "Reason", "SecretNotConfigured", "anonymous", "brand", "brand_facts", "brand_from_metadata",
    "default_brand", "fiscal_code_check_char", "identity_from_metadata", "identity_from_tracker",
    "is_e164", "mask_fiscal_code", "mask_iban", "mask_phone", "mask_vat_number",
    "mint_channel_assertion", "mint_customer_token", "mint_staff_token", "needs_step_up",
    "normalise_brand", "personal_data_customer", "secret_for", "step_up_marker",
    "stepped_up_customer", "to_e164", "valid_fiscal_code", "valid_iban", "valid_mobile",
    "valid_vat_number", "verify_token",
]
