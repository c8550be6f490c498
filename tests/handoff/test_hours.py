"""Operators' hours per brand: CA Vita's from its guide (the registry), Alleanza's from the
settings' default, lunch breaks, Friday's early close, weekends and Italy's holidays."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest
import yaml

import brand_registry
from handoff.clock import ROME, fixed_clock
from handoff.closures import BRAND_CLOSURE, ClosedDays
from handoff.hours import SupportHours, brand_hours
from handoff.schedule import ScheduleError, WeeklyHours, from_registry, parse_hours
from handoff.settings import DEFAULT_HOURS, HandoffSettings, hours_env

DEFAULTS = HandoffSettings.from_env({})


def rome(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ROME)


@pytest.fixture
def cavita() -> SupportHours:
    return brand_hours("cavita", DEFAULTS)


@pytest.fixture
def alleanza() -> SupportHours:
    return brand_hours("alleanza", DEFAULTS)


@pytest.mark.parametrize(("at", "expected"), [
    (rome(2026, 4, 13, 8, 59), False),   # Monday, before opening
    (rome(2026, 4, 13, 9, 0), True),
    (rome(2026, 4, 13, 13, 29), True),
    (rome(2026, 4, 13, 13, 30), False),  # lunch break 13:30-14:30
    (rome(2026, 4, 13, 14, 0), False),
    (rome(2026, 4, 13, 14, 30), True),
    (rome(2026, 4, 16, 17, 15), True),   # Thursday: until 17:30
    (rome(2026, 4, 16, 17, 30), False),
    (rome(2026, 4, 17, 16, 59), True),   # Friday: until 17:00
    (rome(2026, 4, 17, 17, 0), False),
    (rome(2026, 4, 17, 17, 15), False),
    (rome(2026, 4, 18, 10, 0), False),   # Saturday
    (rome(2026, 4, 19, 10, 0), False),   # Sunday
])
def test_cavita_follows_its_guide(cavita: SupportHours, at: datetime, expected: bool):
    assert cavita.is_open(at) is expected


def test_cavita_hours_come_from_the_registry():
    assert from_registry(brand_registry.brand("cavita").phone_hours) == parse_hours(
        "lun-gio 9:00-13:30, 14:30-17:30; ven 9:00-13:30, 14:30-17:00")


def test_cavita_closing_times_and_next_openings(cavita: SupportHours):
    assert cavita.closes_at(rome(2026, 4, 13, 10)) == rome(2026, 4, 13, 13, 30)
    assert cavita.closes_at(rome(2026, 4, 17, 15)) == rome(2026, 4, 17, 17, 0)
    assert cavita.closes_at(rome(2026, 4, 13, 14)) is None
    assert cavita.next_opening(rome(2026, 4, 13, 14)) == rome(2026, 4, 13, 14, 30)
    assert cavita.next_opening(rome(2026, 4, 13, 8, 15)) == rome(2026, 4, 13, 9, 0)
    # Open now: now is the next opening.
    assert cavita.next_opening(rome(2026, 4, 13, 10, 5)) == rome(2026, 4, 13, 10, 5)
    # Friday after 17:00 -> Monday 9:00, across the weekend.
    assert cavita.next_opening(rome(2026, 4, 17, 17, 15)) == rome(2026, 4, 20, 9, 0)
    assert cavita.next_opening(rome(2026, 4, 18, 11)) == rome(2026, 4, 20, 9, 0)


def test_alleanza_uses_the_documented_default(alleanza: SupportHours):
    assert DEFAULT_HOURS == "mon-fri 09:00-18:00"
    assert alleanza.weekly == parse_hours("mon-fri 09:00-18:00")
    assert alleanza.is_open(rome(2026, 4, 13, 13, 45))      # no lunch break
    assert alleanza.is_open(rome(2026, 4, 17, 17, 45))      # Friday until 18:00
    assert not alleanza.is_open(rome(2026, 4, 17, 18, 0))
    assert not alleanza.is_open(rome(2026, 4, 18, 10))      # Saturday
    assert alleanza.next_opening(rome(2026, 4, 17, 18, 0)) == rome(2026, 4, 20, 9, 0)


def test_the_same_instant_differs_per_brand(cavita: SupportHours, alleanza: SupportHours):
    at = rome(2026, 4, 13, 17, 45)
    assert (cavita.is_open(at), alleanza.is_open(at)) == (False, True)


def test_the_environment_sets_a_brands_hours_and_the_default():
    settings = HandoffSettings.from_env({
        hours_env("alleanza"): "lun-ven 8:30-12:30",
        "HANDOFF_DEFAULT_HOURS": "mon-sat 10:00-11:00",
    })
    assert hours_env("alleanza") == "HANDOFF_HOURS_ALLEANZA"
    alleanza = brand_hours("alleanza", settings)
    assert alleanza.is_open(rome(2026, 4, 13, 8, 45))
    assert not alleanza.is_open(rome(2026, 4, 13, 13, 0))
    assert settings.default_hours.on(5) == ((time(10), time(11)),)
    # CA Vita keeps its registry hours: the default is only for brands that list none.
    assert brand_hours("cavita", settings).is_open(rome(2026, 4, 13, 16))
    override = HandoffSettings.from_env({"HANDOFF_HOURS_CAVITA": "mon-fri 07:00-08:00"})
    assert brand_hours("cavita", override).is_open(rome(2026, 4, 13, 7, 30))
    assert not brand_hours("cavita", override).is_open(rome(2026, 4, 13, 16))


@pytest.mark.parametrize(("day", "name"), [
    (date(2026, 4, 25), "Anniversario della Liberazione"),
    (date(2026, 6, 2), "Festa della Repubblica"),
    (date(2026, 4, 6), "Lunedì dell'Angelo"),        # Easter Monday 2026
    (date(2026, 12, 25), "Natale"),
    (date(2026, 12, 26), "Santo Stefano"),
    (date(2027, 3, 29), "Lunedì dell'Angelo"),       # Easter Monday moves every year
])
def test_italian_public_holidays(day: date, name: str):
    assert ClosedDays().reason(day) == name


def test_ordinary_days_are_not_holidays():
    closed = ClosedDays()
    assert closed.reason(date(2026, 4, 7)) is None
    assert not closed.is_closed(date(2026, 12, 24))


@pytest.mark.parametrize("code", ["cavita", "alleanza"])
@pytest.mark.parametrize("at", [
    rome(2026, 6, 2, 10),    # Tuesday, Festa della Repubblica
    rome(2026, 4, 6, 10),    # Easter Monday
    rome(2026, 12, 25, 10),  # Friday, Christmas
])
def test_no_operators_on_weekday_holidays(code: str, at: datetime):
    assert not brand_hours(code, DEFAULTS).is_open(at)


def test_25_april_closes_even_a_brand_open_on_saturdays():
    # 25 April 2026 is a Saturday: a Monday-Saturday brand shows the holiday matters.
    settings = HandoffSettings.from_env({"HANDOFF_HOURS_ALLEANZA": "mon-sat 09:00-18:00"})
    hours = brand_hours("alleanza", settings)
    assert hours.is_open(rome(2026, 4, 18, 10))
    assert not hours.is_open(rome(2026, 4, 25, 10))
    assert hours.next_opening(rome(2026, 4, 24, 18, 30)) == rome(2026, 4, 27, 9, 0)


def test_next_opening_skips_weekends_and_holidays(cavita: SupportHours):
    # Friday 3 April after closing -> weekend -> Easter Monday -> Tuesday 7 April.
    assert cavita.next_opening(rome(2026, 4, 3, 17, 0)) == rome(2026, 4, 7, 9, 0)
    # Christmas Eve after closing -> 25 (Fri), 26, 27 -> Monday 28 December.
    assert cavita.next_opening(rome(2026, 12, 24, 18)) == rome(2026, 12, 28, 9, 0)
    # Monday 1 June after closing -> 2 June -> Wednesday 3 June.
    assert cavita.next_opening(rome(2026, 6, 1, 17, 30)) == rome(2026, 6, 3, 9, 0)
    # New Year's Eve (Thursday) -> 1 January (Friday) -> Monday 4 January 2027.
    assert cavita.next_opening(rome(2026, 12, 31, 17, 45)) == rome(2027, 1, 4, 9, 0)


def test_a_brands_own_closing_days_from_the_registry(tmp_path, monkeypatch):
    entries = yaml.safe_load(brand_registry.DEFAULT_PATH.read_text(encoding="utf-8"))
    entries["cavita"]["support"]["closed_days"] = [date(2026, 8, 14), "2026-12-24"]
    path = tmp_path / "brands.yml"
    path.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv(brand_registry.REGISTRY_ENV, str(path))
    assert brand_registry.brand("cavita").closed_days == (date(2026, 8, 14), date(2026, 12, 24))
    hours = brand_hours("cavita", DEFAULTS)
    assert not hours.is_open(rome(2026, 8, 14, 10))          # a Friday
    assert hours.closed.reason(date(2026, 8, 14)) == BRAND_CLOSURE
    assert hours.closed.reason(date(2026, 8, 15)) == "Assunzione della Beata Vergine Maria"
    assert hours.next_opening(rome(2026, 8, 13, 17, 45)) == rome(2026, 8, 17, 9, 0)
    assert hours.next_opening(rome(2026, 12, 23, 18)) == rome(2026, 12, 28, 9, 0)
    # Alleanza's entry lists none: open on 14 August.
    assert brand_hours("alleanza", DEFAULTS).is_open(rome(2026, 8, 14, 10))


def test_the_shipped_registry_lists_no_extra_closing_days():
    assert brand_registry.brand("cavita").closed_days == ()
    assert brand_registry.brand("alleanza").closed_days == ()


def test_the_clock_is_injectable():
    hours = brand_hours("cavita", DEFAULTS, clock=fixed_clock(rome(2026, 4, 13, 14)))
    assert not hours.is_open()
    assert hours.next_opening() == rome(2026, 4, 13, 14, 30)
    assert hours.is_open(rome(2026, 4, 13, 15))  # an explicit instant wins over the clock


def test_any_zone_is_read_in_rome_time(cavita: SupportHours):
    # Summer (UTC+2): 07:30 UTC is 09:30 in Rome; winter (UTC+1): 07:30 UTC is 08:30.
    assert cavita.is_open(datetime(2026, 4, 13, 7, 30, tzinfo=timezone.utc))
    assert not cavita.is_open(datetime(2026, 1, 12, 7, 30, tzinfo=timezone.utc))
    opening = cavita.next_opening(datetime(2026, 1, 12, 7, 30, tzinfo=timezone.utc))
    assert opening == rome(2026, 1, 12, 9, 0)
    assert opening.utcoffset().total_seconds() == 3600


def test_a_naive_datetime_is_refused(cavita: SupportHours):
    with pytest.raises(ValueError, match="aware"):
        cavita.is_open(datetime(2026, 4, 13, 10))


def test_a_brand_without_operators_never_opens():
    hours = SupportHours(parse_hours("none"))
    assert hours.weekly == WeeklyHours()
    assert not hours.is_open(rome(2026, 4, 13, 10))
    assert hours.next_opening(rome(2026, 4, 13, 10)) is None


def test_an_unregistered_brand_is_a_key_error():
    with pytest.raises(KeyError):
        brand_hours("nessuno", DEFAULTS)


@pytest.mark.parametrize("spec", [
    "mon-fri 09:00-13:00,12:00-15:00",  # overlapping slots
    "fri-mon 09:00-18:00",              # backwards range
    "xyz 09:00-18:00",                  # no such day
    "mon 18:00-09:00",                  # ends before it starts
    "mon 9-",                           # no end
    "mon-fri",                          # no slot
    "mon 09:00-12:00; mon 14:00-18:00",  # a day listed twice
    "",
])
def test_unreadable_hours_are_refused(spec: str):
    with pytest.raises(ScheduleError):
        parse_hours(spec)


def test_bad_hours_in_the_environment_stop_the_process():
    with pytest.raises(ScheduleError):
        HandoffSettings.from_env({"HANDOFF_DEFAULT_HOURS": "tutti i giorni"})
