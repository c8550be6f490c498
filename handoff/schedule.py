"""A brand's weekly opening slots, from the registry or from a one-line setting.

Why a setting format: a brand whose registry entry lists no hours (its FAQ give none) still
needs operators' hours, and a deployment must be able to change them without a commit. The
line reads like the insurers' guides: ``"mon-thu 09:00-13:30,14:30-17:30; fri 09:00-13:00"``
(Italian day names too: ``"lun-gio 9:00-13:30, 14:30-17:30; ven 9:00-13:30"``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType

Slot = tuple[time, time]

_DAY_NAMES = (
    ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    ("lun", "mar", "mer", "gio", "ven", "sab", "dom"),
)
DAY_INDEX = {name: index for names in _DAY_NAMES for index, name in enumerate(names)}


class ScheduleError(ValueError):
    """Hours that cannot be read, or slots that overlap or end before they start."""


@dataclass(frozen=True)
class WeeklyHours:
    """Opening slots per weekday (0 = Monday), each day's sorted and not overlapping."""

    slots: Mapping[int, tuple[Slot, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = {day: _checked(day, slots) for day, slots in self.slots.items() if slots}
        object.__setattr__(self, "slots", MappingProxyType(checked))

    def on(self, weekday: int) -> tuple[Slot, ...]:
        """The slots of one weekday (0 = Monday); empty when closed all day."""
        return self.slots.get(weekday, ())

    @property
    def never_open(self) -> bool:
        return not self.slots


def _checked(day: int, slots: Iterable[Slot]) -> tuple[Slot, ...]:
    if day not in range(7):
        raise ScheduleError(f"weekday {day} is not 0 (Monday) to 6 (Sunday)")
    ordered = tuple(sorted(slots))
    for start, end in ordered:
        if start >= end:
            raise ScheduleError(f"slot {start:%H:%M}-{end:%H:%M} ends before it starts")
    for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False):
        if start < end:
            raise ScheduleError(f"slots overlap on weekday {day} at {start:%H:%M}")
    return ordered


def _time(text: str) -> time:
    hours, sep, minutes = text.strip().partition(":")
    try:
        return time(int(hours), int(minutes) if sep else 0)
    except ValueError as error:
        raise ScheduleError(f"{text!r} is not a time like 09:00") from error


def _slot(text: str) -> Slot:
    start, sep, end = text.partition("-")
    if not sep:
        raise ScheduleError(f"{text!r} is not a slot like 09:00-13:30")
    return _time(start), _time(end)


def _days(text: str) -> range:
    first, _, last = text.strip().lower().partition("-")
    try:
        start, stop = DAY_INDEX[first], DAY_INDEX[last or first]
    except KeyError as error:
        raise ScheduleError(f"{text!r} is not a day or a range like mon-fri") from error
    if stop < start:
        raise ScheduleError(f"{text!r} runs backwards (the week starts on Monday)")
    return range(start, stop + 1)


def parse_hours(spec: str) -> WeeklyHours:
    """Read ``"mon-fri 09:00-18:00; sat 09:00-12:00"``; ``"none"`` means never open."""
    if spec.strip().lower() == "none":
        return WeeklyHours()
    slots: dict[int, tuple[Slot, ...]] = {}
    for group in filter(None, (g.strip() for g in spec.split(";"))):
        days, _, rest = group.partition(" ")
        day_slots = tuple(_slot(s) for s in rest.replace(" ", "").split(",") if s)
        if not day_slots:
            raise ScheduleError(f"{group!r} names days but no slot")
        for day in _days(days):
            if day in slots:
                raise ScheduleError(f"weekday {day} is listed twice in {spec!r}")
            slots[day] = day_slots
    if not slots:
        raise ScheduleError("empty hours: write 'none' for a brand without operators")
    return WeeklyHours(slots)


def from_registry(hours: Mapping[int, Iterable[tuple[str, str]]]) -> WeeklyHours:
    """The registry's ``phone_hours`` (weekday -> ``("09:00", "13:30")`` pairs)."""
    return WeeklyHours({day: tuple((_time(a), _time(b)) for a, b in slots)
                        for day, slots in hours.items()})
