"""Settings from the environment and the business rules of each brand.

Everything that differs between Alleanza and CA Vita lives in ``BRAND_RULES``, built from
the shared brand registry (``brand_registry/brands.yml``) so that the services stay
brand-agnostic: change a fact there, not in the code. Backend-only knobs (cooldowns,
attempt limits, link validity) keep their defaults here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path

from brand_registry import Brand, registry

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_API_KEY = "dev-backend-key"
DEFAULT_OTP_SECRET = "dev-otp-secret-change-me"
SMS_MODES = ("console", "twilio", "fake_twilio")
# Credentials the local fake Twilio server accepts unless told otherwise.
FAKE_TWILIO_SID = "AC" + "0" * 32
FAKE_TWILIO_TOKEN = "fake-twilio-token"
FAKE_TWILIO_FROM = "+15005550006"


@dataclass(frozen=True)
class PhoneSlot:
    """One opening interval of the phone support, local (Europe/Rome) time."""

    start: time
    end: time


@dataclass(frozen=True)
class BrandRules:
    """Per-brand rules taken from the seeds (Alleanza FAQ, CA Vita guide)."""

    brand: str
    display_name: str
    number_prefix: str  # prefix of policy, ticket and request numbers
    # OTP: Alleanza FAQ "6 caratteri numerici", "validità di 120 secondi";
    # CA Vita guide "codice segreto OTP a 5 cifre". The Alleanza FAQ also says
    # "durata di 5 minuti" once; we follow the 120 s stated twice.
    otp_length: int
    otp_ttl_seconds: int = 120
    otp_resend_cooldown_seconds: int = 30
    otp_hourly_cap: int = 5
    otp_max_attempts: int = 5
    # How long a verified challenge may still authorise an operation.
    otp_verified_ttl_seconds: int = 600
    # Archived policies: None = all shown (Alleanza "Archivio polizze"),
    # else only those ended within that many months (CA Vita: 24).
    archived_visible_months: int | None = None
    # Payments (Alleanza FAQ "Pagamento rate di premio").
    max_overdue_months: int = 6
    protection_advance_days: int = 30
    payment_methods: tuple[str, ...] = ("card", "mybank")
    # "agency": no link; the consultant calls to fix an appointment and the customer pays
    # afterwards (Alleanza FAQ, extra payments: "Il tuo consulente ... fissare un appuntamento").
    appointment_method: str = "agency"
    card_networks: tuple[str, ...] = ("visa", "mastercard")
    payment_link_ttl_minutes: int = 30
    # Phone support: weekday (0=Mon) -> slots. Empty = no phone line in the seeds.
    phone_hours: Mapping[int, tuple[PhoneSlot, ...]] = field(default_factory=dict)
    phone_support_note: str = ""
    # Other ways to get help, machine-readable, for the assistant to phrase.
    support_channels: tuple[str, ...] = ("support_form",)
    sms_template: str = "{code}"


def _rules(entry: Brand) -> BrandRules:
    """The backend's rules of one brand, from the shared registry entry."""
    return BrandRules(
        brand=entry.code,
        display_name=entry.display_name,
        number_prefix=entry.policy_prefix,
        otp_length=entry.otp_digits,
        otp_ttl_seconds=entry.otp_validity_seconds,
        archived_visible_months=entry.archive_months,
        payment_methods=entry.payment_methods,
        card_networks=entry.card_networks,
        phone_hours={
            day: tuple(PhoneSlot(time.fromisoformat(a), time.fromisoformat(b)) for a, b in slots)
            for day, slots in entry.phone_hours.items()
        },
        phone_support_note="" if entry.phone_hours else "no_phone_line_in_faq",
        support_channels=entry.support_channels,
        sms_template=entry.sms_template,
    )


# Facts from brand_registry/brands.yml (the one source for backend, actions and channels).
BRAND_RULES: dict[str, BrandRules] = {code: _rules(entry) for code, entry in registry().items()}
BRANDS = tuple(BRAND_RULES)

SUPPORT_TIMEZONE = "Europe/Rome"


OTP_TTL_OVERRIDE_ENV = "BACKEND_OTP_TTL_SECONDS"
# Tests only (never in production): timers and caps a test stack shortens or lifts.
TEST_OVERRIDES = {
    OTP_TTL_OVERRIDE_ENV: "otp_ttl_seconds",
    "BACKEND_OTP_COOLDOWN_SECONDS": "otp_resend_cooldown_seconds",
    "BACKEND_OTP_HOURLY_CAP": "otp_hourly_cap",
}


def rules_for(brand: str) -> BrandRules:
    """Rules of a brand; KeyError for an unknown brand (validated upstream).

    ``BACKEND_OTP_TTL_SECONDS``, ``BACKEND_OTP_COOLDOWN_SECONDS`` and
    ``BACKEND_OTP_HOURLY_CAP`` change the code validity, resend cooldown and hourly cap for
    end-to-end tests, which talk to the running service and cannot move its clock; they are
    read per call so a test process can start a backend with them. Never set them in
    production.
    """
    rules = BRAND_RULES[brand]
    changes = {}
    for env_name, field_name in TEST_OVERRIDES.items():
        value = os.environ.get(env_name, "").strip()
        if value.isdigit() and (int(value) > 0 or field_name == "otp_resend_cooldown_seconds"):
            changes[field_name] = int(value)
    return replace(rules, **changes) if changes else rules


@dataclass(frozen=True)
class Settings:
    """Process settings, read once from the environment (see README)."""

    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str = ""
    api_key: str = DEFAULT_API_KEY
    otp_secret: str = DEFAULT_OTP_SECRET
    public_base_url: str = ""
    sms_mode: str = "console"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_api_base_url: str = ""
    sms_outbox_path: Path = REPO_ROOT / "var" / "sms_outbox.jsonl"
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        host = env.get("BACKEND_HOST", "127.0.0.1")
        port = int(env.get("BACKEND_PORT", "8000"))
        db_url = env.get("BACKEND_DATABASE_URL") or default_sqlite_url()
        sms_mode = env.get("SMS_MODE", "console").strip().lower()
        if sms_mode not in SMS_MODES:
            raise ValueError(f"SMS_MODE must be one of {SMS_MODES}, not {sms_mode!r}")
        sid = env.get("TWILIO_ACCOUNT_SID", "")
        token = env.get("TWILIO_AUTH_TOKEN", "")
        sender = env.get("TWILIO_FROM", "")
        if sms_mode == "fake_twilio":
            sid, token, sender = sid or FAKE_TWILIO_SID, token or FAKE_TWILIO_TOKEN, sender or FAKE_TWILIO_FROM
        return cls(
            host=host,
            port=port,
            database_url=db_url,
            api_key=env.get("BACKEND_API_KEY", DEFAULT_API_KEY),
            otp_secret=env.get("BACKEND_OTP_SECRET", DEFAULT_OTP_SECRET),
            public_base_url=env.get("BACKEND_PUBLIC_URL", f"http://{host}:{port}").rstrip("/"),
            sms_mode=sms_mode,
            twilio_account_sid=sid,
            twilio_auth_token=token,
            twilio_from=sender,
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL", "").rstrip("/"),
            sms_outbox_path=Path(env.get("SMS_OUTBOX_PATH", str(REPO_ROOT / "var" / "sms_outbox.jsonl"))),
            log_level=env.get("BACKEND_LOG_LEVEL", "INFO").upper(),
        )


def default_sqlite_url() -> str:
    """SQLite file under ``var/`` at the repo root (the directory is created on start)."""
    return f"sqlite:///{REPO_ROOT / 'var' / 'backend.sqlite3'}"
