"""Days without operators: Italy's public holidays, and a brand's own closing days.

Why the ``holidays`` library: Easter Monday moves every year and the national calendar
changes by law (4 October is a holiday again from 2026); a maintained package keeps up,
a hand-kept list of dates goes stale. A brand's extra days (a company closure, a patron
saint) come from its registry entry (``support.closed_days``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import date

import holidays

COUNTRY = "IT"
LANGUAGE = "it_IT"  # names as the customers read them: «Anniversario della Liberazione»
BRAND_CLOSURE = "Chiusura aziendale"


class ClosedDays:
    """Whether operators are away on a given day, and why (the holiday's Italian name)."""

    def __init__(self, extra: Iterable[date] = ()) -> None:
        self._extra = frozenset(extra)
        self._calendar = holidays.country_holidays(COUNTRY, language=LANGUAGE)
        # The calendar fills a year in on first use: one thread at a time.
        self._lock = threading.Lock()

    def reason(self, day: date) -> str | None:
        """The holiday's name, :data:`BRAND_CLOSURE` for a brand's own day, None when open."""
        with self._lock:
            name = self._calendar.get(day)
        if name:
            return str(name)
        return BRAND_CLOSURE if day in self._extra else None

    def is_closed(self, day: date) -> bool:
        return self.reason(day) is not None
