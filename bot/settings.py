"""The Rasa process's deployment settings, read once from the environment.

Why one object: each channel used to read ``os.environ`` on its own, so nothing could say
whether the process as a whole was safe to expose. :func:`current` reads the environment
once per process; every channel takes its settings from it and calls
:meth:`Settings.check_startup` when it is built. In production (``ASSISTANT_ENV=production``)
a channel refuses to start while :meth:`Settings.problems` lists anything; in development
the process logs one loud line saying it is a development stack.

Variables: ``ASSISTANT_ENV`` (``development`` default, or ``production``), ``DEMO_PAGES``
(``1`` = demo pages and demo tokens), ``CHAT_ALLOWED_ORIGINS`` (comma-separated origins of
the insurers' sites), ``REST_SERVICE_TOKEN`` (bearer token the REST channel requires in
production), ``MAX_MESSAGE_CHARS`` (default 1000), ``RASA_HOST`` (bind address, default
``127.0.0.1``), and the secrets whose public development values are published in this
repository (``CUSTOMER_JWT_SECRET``, ``STAFF_JWT_SECRET``, ``CHANNEL_ASSERTION_SECRET`` in
``identity/keys.py``; ``TWILIO_AUTH_TOKEN``, the fake Twilio API's token): only whether
each one is still its development value is kept here, never the value itself.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from identity import DEV_SECRETS

log = logging.getLogger(__name__)

DEVELOPMENT, PRODUCTION = "development", "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)
DEFAULT_MAX_MESSAGE_CHARS = 1000
DEFAULT_BIND_HOST = "127.0.0.1"
MIN_SERVICE_TOKEN_CHARS = 32

# The fake Twilio API's test token (backend_stub/fake_twilio.py): WhatsApp signatures are
# checked with it when TWILIO_AUTH_TOKEN is not set, so anybody could sign a message.
DEV_TWILIO_AUTH_TOKEN = "fake-twilio-token"
TWILIO_TOKEN_ENV = "TWILIO_AUTH_TOKEN"


class UnsafeConfiguration(RuntimeError):
    """Production settings that would expose customers; the message is one line."""


@dataclass(frozen=True)
class Settings:
    """What the channels need to know about this deployment (see the module docstring)."""

    env: str = DEVELOPMENT
    demo_pages: bool = False
    allowed_origins: tuple[str, ...] = ()
    rest_service_token: str | None = field(default=None, repr=False)
    # Names of the secrets still at their public development value (or unset).
    dev_secrets: tuple[str, ...] = ()
    max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS
    bind_host: str = DEFAULT_BIND_HOST

    @property
    def production(self) -> bool:
        return self.env == PRODUCTION

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment; a value that makes no sense stops the process here."""
        env = os.environ if env is None else env
        name = (env.get("ASSISTANT_ENV") or DEVELOPMENT).strip().lower()
        if name not in ENVIRONMENTS:
            raise UnsafeConfiguration(
                f"ASSISTANT_ENV={name!r} is not one of {', '.join(ENVIRONMENTS)}")
        raw_limit = (env.get("MAX_MESSAGE_CHARS") or "").strip()
        try:
            limit = int(raw_limit) if raw_limit else DEFAULT_MAX_MESSAGE_CHARS
        except ValueError:
            limit = 0
        if limit < 1:
            raise UnsafeConfiguration(f"MAX_MESSAGE_CHARS={raw_limit!r} must be a positive number")
        origins = tuple(o.strip() for o in (env.get("CHAT_ALLOWED_ORIGINS") or "").split(","))
        public = dict(DEV_SECRETS)
        public[TWILIO_TOKEN_ENV] = DEV_TWILIO_AUTH_TOKEN
        dev = tuple(n for n, value in public.items() if env.get(n) in (None, "", value))
        return cls(
            env=name,
            demo_pages=env.get("DEMO_PAGES") == "1",
            allowed_origins=tuple(o for o in origins if o),
            rest_service_token=env.get("REST_SERVICE_TOKEN") or None,
            dev_secrets=dev,
            max_message_chars=limit,
            bind_host=(env.get("RASA_HOST") or DEFAULT_BIND_HOST).strip(),
        )

    def problems(self) -> list[str]:
        """Why this configuration is unsafe in production (empty: nothing known)."""
        found = [f"{name} is unset or the public development secret" for name in self.dev_secrets]
        if self.demo_pages:
            found.append("DEMO_PAGES=1 serves demo pages and mints demo tokens")
        if not self.allowed_origins:
            found.append("CHAT_ALLOWED_ORIGINS is empty: any site may open the chat")
        elif "*" in self.allowed_origins:
            found.append("CHAT_ALLOWED_ORIGINS contains '*'")
        if not self.rest_service_token:
            found.append("REST_SERVICE_TOKEN is not set: the REST channel has no service token")
        elif len(self.rest_service_token) < MIN_SERVICE_TOKEN_CHARS:
            found.append(f"REST_SERVICE_TOKEN is shorter than {MIN_SERVICE_TOKEN_CHARS} characters")
        return found

    def check_startup(self) -> None:
        """Refuse an unsafe production start; say once, loudly, that development is development."""
        problems = self.problems()
        if self.production and problems:
            raise UnsafeConfiguration(
                "ASSISTANT_ENV=production refused: " + "; ".join(problems))
        if not self.production:
            _announce_development(tuple(problems))


_announced = False


def _announce_development(problems: tuple[str, ...]) -> None:
    """One line per process, however many channels start."""
    global _announced
    if _announced:
        return
    _announced = True
    detail = f" ({'; '.join(problems)})" if problems else ""
    log.warning("DEVELOPMENT STACK (ASSISTANT_ENV=development): not for real customers%s",
                detail)


@functools.lru_cache(maxsize=1)
def current() -> Settings:
    """This process's settings, read from the environment the first time they are asked for."""
    return Settings.from_env()


def reset() -> None:
    """Forget the settings read so far (tests that change the environment)."""
    global _announced
    current.cache_clear()
    _announced = False
