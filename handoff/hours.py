"""Whether a brand's operators are in hours, and when they next are.

Why here and not in each caller: the assistant (offer a human or not), the widget (say
«ti rispondiamo da lunedì alle 9:00») and the operators' console must agree to the minute,
lunch breaks, Friday's early close and holidays included. A slot is open from its start
up to, not including, its end: at 13:30 CA Vita's operators are at lunch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import brand_registry
from handoff.clock import ROME, Clock, system_clock, to_rome
from handoff.closures import ClosedDays
from handoff.schedule import WeeklyHours, from_registry
from handoff.settings import HandoffSettings

# Long enough for any weekly schedule to reach past a run of holidays; a schedule with no
# slot at all answers None instead of looping for ever.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class SupportHours:
    """One brand's weekly slots and closing days, on an injectable clock."""

    weekly: WeeklyHours
    closed: ClosedDays = field(default_factory=ClosedDays)
    clock: Clock = system_clock

    def _slots(self, day: date) -> list[tuple[datetime, datetime]]:
        if self.closed.is_closed(day):
            return []
        return [(datetime.combine(day, start, tzinfo=ROME),
                 datetime.combine(day, end, tzinfo=ROME))
                for start, end in self.weekly.on(day.weekday())]

    def _now(self, at: datetime | None) -> datetime:
        return to_rome(self.clock() if at is None else at)

    def is_open(self, at: datetime | None = None) -> bool:
        """True when operators are in hours at ``at`` (default: the clock's now)."""
        return self.closes_at(at) is not None

    def closes_at(self, at: datetime | None = None) -> datetime | None:
        """The end of the slot running at ``at``; None when operators are out of hours."""
        now = self._now(at)
        return next((end for start, end in self._slots(now.date()) if start <= now < end), None)

    def next_opening(self, at: datetime | None = None) -> datetime | None:
        """The first instant from ``at`` on when operators are in hours (``at`` itself when
        they already are), in Rome's zone; None for a brand that has no operators."""
        now = self._now(at)
        for offset in range(HORIZON_DAYS):
            for start, end in self._slots(now.date() + timedelta(days=offset)):
                if now < end:
                    return max(start, now)
        return None


def weekly_hours(code: str, settings: HandoffSettings) -> WeeklyHours:
    """The environment's hours for the brand, else its registry's, else the default."""
    if code in settings.brand_hours:
        return settings.brand_hours[code]
    listed = from_registry(brand_registry.brand(code).phone_hours)
    return settings.default_hours if listed.never_open else listed


def brand_hours(code: str, settings: HandoffSettings | None = None,
                clock: Clock = system_clock) -> SupportHours:
    """A registered brand's operators' hours; KeyError for an unregistered brand."""
    settings = HandoffSettings.from_env() if settings is None else settings
    entry = brand_registry.brand(code)
    return SupportHours(weekly_hours(entry.code, settings), ClosedDays(entry.closed_days), clock)
