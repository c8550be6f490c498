"""The handoff's deployment settings, read from the environment.

Why settings and not the registry for some of them: the registry holds what a brand's own
documents say; where they say nothing (Alleanza's FAQ give no hours), the deployment decides,
and it must be able to change its mind without a commit.

Variables:

* ``HANDOFF_HOURS_<BRAND>`` (``HANDOFF_HOURS_CAVITA``...): a brand's operators' hours in
  :func:`handoff.schedule.parse_hours`'s format; wins over the registry's ``phone_hours``;
* ``HANDOFF_DEFAULT_HOURS``: the hours of a brand with neither, default
  :data:`DEFAULT_HOURS` (``"mon-fri 09:00-18:00"``);
* ``HANDOFF_DATABASE_URL``: where the queue lives, an SQLAlchemy URL, default
  :data:`DEFAULT_DATABASE_URL` (an SQLite file under ``var/``; ``postgresql://...`` in
  production, where several processes share it);
* ``HANDOFF_ONLINE_SECONDS``: an operator whose console asked for the queue within this many
  seconds is online (default 30);
* ``HANDOFF_MINUTES_PER_CONVERSATION``: the expected wait told to a customer is this times
  their position, divided by the operators online (default 5);
* ``HANDOFF_CLOCK``: development and tests only, an ISO instant (``2026-04-06T10:00:00+02:00``)
  the hours are read at instead of now (out-of-hours tests on a running stack); refused with
  ``ASSISTANT_ENV=production``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from handoff.clock import Clock, fixed_clock, system_clock
from handoff.schedule import WeeklyHours, parse_hours

DEFAULT_HOURS = "mon-fri 09:00-18:00"
DEFAULT_DATABASE_URL = "sqlite:///var/handoff.sqlite3"
HOURS_PREFIX = "HANDOFF_HOURS_"
DEFAULT_HOURS_ENV = "HANDOFF_DEFAULT_HOURS"
DATABASE_URL_ENV = "HANDOFF_DATABASE_URL"
CLOCK_ENV = "HANDOFF_CLOCK"
DEFAULT_ONLINE_SECONDS = 30.0
DEFAULT_MINUTES_PER_CONVERSATION = 5.0


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be a positive number")
    return value


def _fixed_now(env: Mapping[str, str]) -> datetime | None:
    raw = (env.get(CLOCK_ENV) or "").strip()
    if not raw:
        return None
    if (env.get("ASSISTANT_ENV") or "").strip().lower() == "production":
        raise ValueError(f"{CLOCK_ENV} is for development and tests: refused in production")
    at = datetime.fromisoformat(raw)
    if at.tzinfo is None:
        raise ValueError(f"{CLOCK_ENV}={raw!r} needs an offset, e.g. +02:00")
    return at


def hours_env(brand_code: str) -> str:
    """The variable that sets one brand's hours: ``HANDOFF_HOURS_CAVITA``."""
    return HOURS_PREFIX + brand_code.upper()


@dataclass(frozen=True)
class HandoffSettings:
    """What the environment says about operators' hours and the queue's database."""

    default_hours: WeeklyHours = field(default_factory=lambda: parse_hours(DEFAULT_HOURS))
    # brand code (lower case) -> hours set for it in the environment
    brand_hours: Mapping[str, WeeklyHours] = field(default_factory=dict)
    database_url: str = DEFAULT_DATABASE_URL
    online_seconds: float = DEFAULT_ONLINE_SECONDS
    minutes_per_conversation: float = DEFAULT_MINUTES_PER_CONVERSATION
    fixed_now: datetime | None = None  # HANDOFF_CLOCK (development and tests only)

    @property
    def clock(self) -> Clock:
        """The clock the hours are read on: the fixed instant in tests, else the system's."""
        return fixed_clock(self.fixed_now) if self.fixed_now is not None else system_clock

    def __post_init__(self) -> None:
        object.__setattr__(self, "brand_hours", MappingProxyType(dict(self.brand_hours)))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandoffSettings:
        """Read the environment; hours that cannot be read stop the process here."""
        env = os.environ if env is None else env
        brand_hours = {
            name[len(HOURS_PREFIX):].lower(): parse_hours(value)
            for name, value in env.items()
            if name.startswith(HOURS_PREFIX) and value.strip()
        }
        return cls(
            default_hours=parse_hours((env.get(DEFAULT_HOURS_ENV) or "").strip()
                                      or DEFAULT_HOURS),
            brand_hours=brand_hours,
            database_url=(env.get(DATABASE_URL_ENV) or "").strip() or DEFAULT_DATABASE_URL,
            online_seconds=_positive(env, "HANDOFF_ONLINE_SECONDS", DEFAULT_ONLINE_SECONDS),
            minutes_per_conversation=_positive(env, "HANDOFF_MINUTES_PER_CONVERSATION",
                                               DEFAULT_MINUTES_PER_CONVERSATION),
            fixed_now=_fixed_now(env),
        )
