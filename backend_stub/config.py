"""Settings from the environment and the business rules of each brand.

Everything that differs between Alleanza and CA Vita lives in ``BRAND_RULES`` so that
the services stay brand-agnostic: change a number here, not in the code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BRANDS = ("alleanza", "cavita")
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


def _slots(*pairs: tuple[str, str]) -> tuple[PhoneSlot, ...]:
    return tuple(PhoneSlot(time.fromisoformat(a), time.fromisoformat(b)) for a, b in pairs)


_CAVITA_MON_THU = _slots(("09:00", "13:30"), ("14:30", "17:30"))
_CAVITA_FRI = _slots(("09:00", "13:30"), ("14:30", "17:00"))

BRAND_RULES: dict[str, BrandRules] = {
    "alleanza": BrandRules(
        brand="alleanza",
        display_name="Alleanza Assicurazioni",
        number_prefix="AL",
        otp_length=6,
        archived_visible_months=None,
        phone_hours={},
        phone_support_note="no_phone_line_in_faq",
        support_channels=("support_form", "consulente", "agenzia"),
        sms_template=(
            "Alleanza: il tuo codice di verifica temporaneo e' {code}. Vale 120 secondi. Non comunicarlo a nessuno."
        ),
    ),
    "cavita": BrandRules(
        brand="cavita",
        display_name="CA Vita",
        number_prefix="CV",
        otp_length=5,
        archived_visible_months=24,
        phone_hours={0: _CAVITA_MON_THU, 1: _CAVITA_MON_THU, 2: _CAVITA_MON_THU, 3: _CAVITA_MON_THU, 4: _CAVITA_FRI},
        support_channels=("support_form", "phone"),
        sms_template=("CA Vita: il tuo codice segreto OTP e' {code}. Vale 120 secondi. Non comunicarlo a nessuno."),
    ),
}

SUPPORT_TIMEZONE = "Europe/Rome"


OTP_TTL_OVERRIDE_ENV = "BACKEND_OTP_TTL_SECONDS"


def rules_for(brand: str) -> BrandRules:
    """Rules of a brand; KeyError for an unknown brand (validated upstream).

    ``BACKEND_OTP_TTL_SECONDS`` shortens the code validity for end-to-end tests, which
    talk to the running service and cannot move its clock; it is read per call so a test
    process can start a backend with it. Never set it in production.
    """
    rules = BRAND_RULES[brand]
    override = os.environ.get(OTP_TTL_OVERRIDE_ENV, "").strip()
    if override.isdigit() and int(override) > 0:
        return replace(rules, otp_ttl_seconds=int(override))
    return rules


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
