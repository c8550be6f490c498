"""Time for the handoff: Rome's clock, injectable so tests can stop it.

Why one module: operators work on Italian wall-clock time whatever the server's zone is,
and every rule (hours, queue timestamps) takes a ``Clock`` instead of calling
``datetime.now`` itself, so a test passes a fixed instant and gets the same answer every day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

ROME = ZoneInfo("Europe/Rome")

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in Rome's zone (aware)."""
    return datetime.now(ROME)


def fixed_clock(at: datetime) -> Clock:
    """A clock that always answers ``at`` (tests, replays)."""
    in_rome = to_rome(at)
    return lambda: in_rome


def to_rome(at: datetime) -> datetime:
    """``at`` in Rome's zone; a naive datetime is refused, since its zone would be a guess."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is needed, got the naive {at.isoformat()}")
    return at.astimezone(ROME)


def to_utc(at: datetime) -> datetime:
    """``at`` in UTC (what the queue stores), refusing naive datetimes as :func:`to_rome`."""
    return to_rome(at).astimezone(timezone.utc)
