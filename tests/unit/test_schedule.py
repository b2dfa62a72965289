"""Schedules: Quartz/Unix cron parsing, next fire times (DST, leap years), descriptions, basics."""
from __future__ import annotations

import calendar
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peak_tui.errors import ValidationError
from peak_tui.schedule import (
    BasicSchedule,
    CronExpr,
    describe,
    next_times,
    parse,
    validate,
    validate_timezone,
)

JAN1 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def times(expr: str, after: datetime = JAN1, n: int = 5, tz: str = "UTC") -> list[datetime]:
    return next_times(expr, after, n, tz)


# ------------------------------------------------------------------ documented Quartz examples


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("0 0 12 * * ?", JAN1, [utc(2024, 1, d, 12) for d in range(1, 6)]),
        ("0 15 10 ? * *", JAN1, [utc(2024, 1, d, 10, 15) for d in range(1, 6)]),
        ("0 15 10 * * ?", JAN1, [utc(2024, 1, d, 10, 15) for d in range(1, 6)]),
        (
            "0 15 10 ? * MON-FRI",
            JAN1,
            [utc(2024, 1, d, 10, 15) for d in (1, 2, 3, 4, 5)],
        ),
        (
            "0 15 10 ? * MON-FRI",
            utc(2024, 1, 5, 11),
            [utc(2024, 1, d, 10, 15) for d in (8, 9, 10, 11, 12)],
        ),
        (
            "0 15 10 L * ?",
            JAN1,
            [utc(2024, 1, 31, 10, 15), utc(2024, 2, 29, 10, 15), utc(2024, 3, 31, 10, 15),
             utc(2024, 4, 30, 10, 15), utc(2024, 5, 31, 10, 15)],
        ),
        (
            "0 15 10 ? * 6L",
            JAN1,
            [utc(2024, 1, 26, 10, 15), utc(2024, 2, 23, 10, 15), utc(2024, 3, 29, 10, 15),
             utc(2024, 4, 26, 10, 15), utc(2024, 5, 31, 10, 15)],
        ),
        (
            "0 15 10 ? * 6#3",
            JAN1,
            [utc(2024, 1, 19, 10, 15), utc(2024, 2, 16, 10, 15), utc(2024, 3, 15, 10, 15),
             utc(2024, 4, 19, 10, 15), utc(2024, 5, 17, 10, 15)],
        ),
        (
            "0 0/5 14,18 * * ?",
            utc(2024, 1, 1, 14, 50),
            [utc(2024, 1, 1, 14, 55), utc(2024, 1, 1, 18, 0), utc(2024, 1, 1, 18, 5),
             utc(2024, 1, 1, 18, 10), utc(2024, 1, 1, 18, 15)],
        ),
        (
            "0 0-5 14 * * ?",
            JAN1,
            [utc(2024, 1, 1, 14, m) for m in range(5)],
        ),
        (
            "0 10,44 14 ? 3 WED",
            JAN1,
            [utc(2024, 3, 6, 14, 10), utc(2024, 3, 6, 14, 44), utc(2024, 3, 13, 14, 10),
             utc(2024, 3, 13, 14, 44), utc(2024, 3, 20, 14, 10)],
        ),
        (
            "0 15 10 * * ? 2005",
            utc(2005, 12, 29, 12),
            [utc(2005, 12, 30, 10, 15), utc(2005, 12, 31, 10, 15)],
        ),
        (
            "0 0 12 1/5 * ?",
            JAN1,
            [utc(2024, 1, d, 12) for d in (1, 6, 11, 16, 21)],
        ),
        (
            "0 0 12 1/5 * ?",
            utc(2024, 1, 30),
            [utc(2024, 1, 31, 12), utc(2024, 2, 1, 12), utc(2024, 2, 6, 12),
             utc(2024, 2, 11, 12), utc(2024, 2, 16, 12)],
        ),
        (
            "0 11 11 11 11 ?",
            JAN1,
            [utc(y, 11, 11, 11, 11) for y in range(2024, 2029)],
        ),
        (
            "0 0 12 ? JAN,FEB,MAR SUN#1",
            JAN1,
            [utc(2024, 1, 7, 12), utc(2024, 2, 4, 12), utc(2024, 3, 3, 12),
             utc(2025, 1, 5, 12), utc(2025, 2, 2, 12)],
        ),
        (
            "0 0 12 LW * ?",  # Mar/Jun 2024 end on a Sunday, Aug 2024 on a Saturday
            utc(2024, 3, 1),
            [utc(2024, 3, 29, 12), utc(2024, 4, 30, 12), utc(2024, 5, 31, 12),
             utc(2024, 6, 28, 12), utc(2024, 7, 31, 12)],
        ),
        (
            "0 0 12 15W * ?",  # 15 Jun 2024 is a Saturday, 15 Sep 2024 a Sunday
            utc(2024, 6, 1),
            [utc(2024, 6, 14, 12), utc(2024, 7, 15, 12), utc(2024, 8, 15, 12),
             utc(2024, 9, 16, 12), utc(2024, 10, 15, 12)],
        ),
        (
            "0 0 12 1W * ?",  # 1 Jun 2024 is a Saturday: Monday 3rd, never back into May
            utc(2024, 5, 15),
            [utc(2024, 6, 3, 12), utc(2024, 7, 1, 12), utc(2024, 8, 1, 12),
             utc(2024, 9, 2, 12), utc(2024, 10, 1, 12)],
        ),
        ("0 0 12 L-2 * ?", JAN1, [utc(2024, m, d, 12) for m, d in
                                  ((1, 29), (2, 27), (3, 29), (4, 28), (5, 29))]),
        ("30 45 23 ? * L", JAN1, [utc(2024, 1, d, 23, 45, 30) for d in (6, 13, 20, 27)]
         + [utc(2024, 2, 3, 23, 45, 30)]),
        ("0 0 22-2/2 * * ?", utc(2023, 12, 31, 23),
         [utc(2024, 1, 1, 0), utc(2024, 1, 1, 2), utc(2024, 1, 1, 22),
          utc(2024, 1, 2, 0), utc(2024, 1, 2, 2)]),
        ("0 0 9 ? * FRI-MON", utc(2024, 1, 2), [utc(2024, 1, d, 9) for d in (5, 6, 7, 8, 12)]),
    ],
)
def test_documented_examples_fire_at_exact_times(
    expr: str, after: datetime, expected: list[datetime]
) -> None:
    assert times(expr, after) == expected


def test_results_are_aware_in_the_requested_zone_and_strictly_after() -> None:
    got = times("0 0 12 * * ?", utc(2024, 1, 1, 12), 2, "Europe/Paris")
    assert got == [utc(2024, 1, 2, 11), utc(2024, 1, 3, 11)]
    assert all(isinstance(t.tzinfo, ZoneInfo) and t.tzinfo.key == "Europe/Paris" for t in got)
    assert got[0].hour == 12


def test_a_past_only_year_gives_nothing_and_2099_is_the_end() -> None:
    assert times("0 15 10 * * ? 2005", JAN1) == []
    assert times("0 0 12 1 1 ? 2098-2099", utc(2097, 6, 1)) == [utc(2098, 1, 1, 12),
                                                                 utc(2099, 1, 1, 12)]
    assert len(times("0 0 0 * * ?", utc(2099, 12, 29), 5)) == 2
    assert times("0 0 0 * * ?", utc(2150, 1, 1)) == []


def test_never_firing_expression_is_refused() -> None:
    for expr in ("0 0 0 30 FEB ?", "0 0 0 31 4,6,9,11 ?", "0 0 12 29 2 ? 2097-2099"):
        with pytest.raises(ValidationError, match="never fires") as info:
            times(expr)
        assert info.value.field == "cron"
        with pytest.raises(ValidationError, match="never fires"):
            validate(expr)


# ------------------------------------------------------------------------------------ leap years


def test_feb_29_fires_only_in_leap_years() -> None:
    assert times("0 0 12 29 2 ?", utc(2024, 3, 1), 3) == [
        utc(2028, 2, 29, 12), utc(2032, 2, 29, 12), utc(2036, 2, 29, 12)
    ]
    # 2100 is not a leap year but is past the end anyway; 2096 is the last one.
    assert times("0 0 12 29 2 ?", utc(2090, 1, 1), 5) == [utc(2092, 2, 29, 12),
                                                          utc(2096, 2, 29, 12)]


def test_last_day_of_february_in_leap_and_common_years() -> None:
    assert times("0 0 0 L 2 ?", utc(2023, 1, 1), 3) == [
        utc(2023, 2, 28), utc(2024, 2, 29), utc(2025, 2, 28)
    ]
    assert times("0 0 0 L-1 FEB ?", utc(2024, 1, 1), 2) == [utc(2024, 2, 28), utc(2025, 2, 27)]
    assert times("0 0 0 ? 2 5L", utc(2023, 1, 1), 2) == [utc(2023, 2, 23), utc(2024, 2, 29)]


# ------------------------------------------------------------------------------------------- DST


def as_utc(values: list[datetime]) -> list[datetime]:
    return [t.astimezone(UTC) for t in values]


def local(tz: str, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz), fold=fold)


def test_london_spring_forward_fires_once_at_end_of_gap() -> None:
    # 31 Mar 2024: 01:00 GMT -> 02:00 BST, local 01:00-01:59 does not exist.
    tz = "Europe/London"
    got = times("0 30 1 * * ?", utc(2024, 3, 30, 12), 3, tz)
    assert got == [local(tz, 2024, 3, 31, 2), local(tz, 2024, 4, 1, 1, 30),
                   local(tz, 2024, 4, 2, 1, 30)]
    assert got[0] == utc(2024, 3, 31, 1)
    every_15 = times("0 0/15 1-2 * * ?", utc(2024, 3, 30, 23), 4, tz)
    assert every_15 == [local(tz, 2024, 3, 31, 2, m) for m in (0, 15, 30, 45)]


def test_london_fall_back_fires_once_at_first_occurrence() -> None:
    # 27 Oct 2024: 02:00 BST -> 01:00 GMT, local 01:00-01:59 happens twice.
    tz = "Europe/London"
    got = times("0 30 1 * * ?", utc(2024, 10, 26, 12), 2, tz)
    # Python never calls an ambiguous local time == a UTC one (PEP 495), so compare in UTC.
    assert as_utc(got) == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 28, 1, 30)]
    assert got[0].fold == 0 and got[0].utcoffset() == timedelta(hours=1)
    half_hourly = times("0 0/30 * * * ?", utc(2024, 10, 27, 0), 4, tz)
    assert as_utc(half_hourly) == [utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 2),
                                   utc(2024, 10, 27, 2, 30), utc(2024, 10, 27, 3)]
    # Starting inside the repeated hour (second pass) skips to the next wall time.
    assert times("0 0/30 * * * ?", utc(2024, 10, 27, 1, 10), 1, tz) == [utc(2024, 10, 27, 2)]


def test_new_york_spring_forward_gap_and_coinciding_times_fire_once() -> None:
    # 10 Mar 2024: 02:00 EST -> 03:00 EDT.
    tz = "America/New_York"
    got = times("0 0,30 2,3 * * ?", utc(2024, 3, 9, 12), 4, tz)
    assert got == [local(tz, 2024, 3, 10, 3), local(tz, 2024, 3, 10, 3, 30),
                   local(tz, 2024, 3, 11, 2), local(tz, 2024, 3, 11, 2, 30)]
    assert got[0] == utc(2024, 3, 10, 7)


def test_new_york_fall_back_fires_once() -> None:
    # 3 Nov 2024: 02:00 EDT -> 01:00 EST.
    tz = "America/New_York"
    got = times("0 30 1 * * ?", utc(2024, 11, 2, 12), 2, tz)
    assert as_utc(got) == [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]
    assert got[0].utcoffset() == timedelta(hours=-4)
    assert got[1].utcoffset() == timedelta(hours=-5)


def test_naive_after_and_bad_n_and_bad_zone_are_refused() -> None:
    with pytest.raises(ValidationError) as info:
        next_times("0 0 12 * * ?", datetime(2024, 1, 1))
    assert info.value.field == "after"
    with pytest.raises(ValidationError) as info:
        next_times("0 0 12 * * ?", JAN1, n=0)
    assert info.value.field == "n"
    with pytest.raises(ValidationError) as info:
        next_times("0 0 12 * * ?", JAN1, tz="Mars/Olympus_Mons")
    assert info.value.field == "schedule.timezone"


# ------------------------------------------------------------------------------ invalid inputs


@pytest.mark.parametrize(
    ("expr", "field"),
    [
        ("", "cron"),
        ("   ", "cron"),
        ("0 0 12 * * ? 2024 extra", "cron"),
        ("0 12 *", "cron"),
        ("60 0 12 * * ?", "cron.seconds"),
        ("a 0 12 * * ?", "cron.seconds"),
        ("0 60 12 * * ?", "cron.minutes"),
        ("0 0/0 12 * * ?", "cron.minutes"),
        ("0 5-70 * * * ?", "cron.minutes"),
        ("0 1,,2 * * * ?", "cron.minutes"),
        ("0 0 24 * * ?", "cron.hours"),
        ("0 0 ? * * ?", "cron.hours"),
        ("0 0 L * * ?", "cron.hours"),
        ("0 0 12 32 * ?", "cron.day_of_month"),
        ("0 0 12 0 * ?", "cron.day_of_month"),
        ("0 0 12 L-31 * ?", "cron.day_of_month"),
        ("0 0 12 32W * ?", "cron.day_of_month"),
        ("0 0 12 1,L * ?", "cron.day_of_month"),
        ("0 0 12 6#3 * ?", "cron.day_of_month"),
        ("0 0 12 ? * ?", "cron.day_of_month"),
        ("0 0 12 * 13 ?", "cron.month"),
        ("0 0 12 * FOO ?", "cron.month"),
        ("0 0 12 * JAN# ?", "cron.month"),
        ("0 0 12 ? * 8", "cron.day_of_week"),
        ("0 0 12 ? * 0", "cron.day_of_week"),
        ("0 0 12 ? * FUNDAY", "cron.day_of_week"),
        ("0 0 12 ? * 6#6", "cron.day_of_week"),
        ("0 0 12 ? * 6#3,2", "cron.day_of_week"),
        ("0 0 12 ? * 5W", "cron.day_of_week"),
        ("0 0 12 * * *", "cron.day_of_week"),
        ("0 0 12 1 * MON", "cron.day_of_week"),
        ("0 0 12 * * ? 1969", "cron.year"),
        ("0 0 12 * * ? 2100", "cron.year"),
        ("0 0 12 * * ? 2030-2025", "cron.year"),
        ("0 0 12 * * ? ?", "cron.year"),
        # the 5-field Unix form
        ("61 * * * *", "cron.minutes"),
        ("0 0 * * 8", "cron.day_of_week"),
        ("0 0 L * *", "cron.day_of_month"),
        ("0 0 1 * 1", "cron.day_of_week"),
        ("0 0 ? * 1", "cron.day_of_month"),
    ],
)
def test_invalid_expression_names_the_failing_field(expr: str, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse(expr)
    assert info.value.field == field
    assert info.value.field in str(info.value)


def test_non_string_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse(None)  # type: ignore[arg-type]
    assert info.value.field == "cron"


@pytest.mark.parametrize("expr", ["* * * * * ?", "0/30 * * * * ?", "0,30 0 12 * * ?",
                                  "0-59 * * ? * MON"])
def test_firing_more_than_once_a_minute_is_refused(expr: str) -> None:
    parse(expr)  # syntactically fine...
    with pytest.raises(ValidationError, match="fires more than once a minute") as info:
        validate(expr)  # ...but not allowed as a schedule
    assert info.value.field == "cron.seconds"


def test_validate_accepts_once_a_minute_and_returns_the_parsed_expression() -> None:
    cron = validate("0 * * * * ?")
    assert isinstance(cron, CronExpr) and cron.kind == "quartz"
    assert times(cron, JAN1, 2) == [utc(2024, 1, 1, 0, 1), utc(2024, 1, 1, 0, 2)]


# ------------------------------------------------------------------------------------ Unix form


@pytest.mark.parametrize(
    ("unix", "quartz"),
    [
        ("*/15 * * * *", "0 */15 * * * ?"),
        ("30 9 * * 1-5", "0 30 9 ? * MON-FRI"),
        ("0 0 * * 0", "0 0 0 ? * SUN"),
        ("0 0 * * 7", "0 0 0 ? * SUN"),
        ("0 0 * * 5-7", "0 0 0 ? * SUN,FRI,SAT"),
        ("0 12 1 * *", "0 0 12 1 * ?"),
        ("0 12 * jan,jul *", "0 0 12 * JAN,JUL ?"),
        ("5 4 * * sun", "0 5 4 ? * SUN"),
        ("0 8 * * */2", "0 0 8 ? * SUN,TUE,THU,SAT"),
    ],
)
def test_unix_five_field_form_converts_to_quartz(unix: str, quartz: str) -> None:
    cron = parse(unix)
    assert cron.kind == "unix"
    assert cron.quartz == quartz
    assert parse(cron.quartz).kind == "quartz"
    assert times(cron, JAN1, 4) == times(quartz, JAN1, 4)


def test_unix_weekday_numbers_are_zero_based() -> None:
    assert times("30 9 * * 1-5", JAN1, 2) == [utc(2024, 1, 1, 9, 30), utc(2024, 1, 2, 9, 30)]
    assert times("0 0 * * 6", JAN1, 1) == [utc(2024, 1, 6)]


# ------------------------------------------------------------------------------------- describe


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("0 15 10 ? * 6L", "At 10:15 on the last Friday of every month"),
        ("0 0/5 14,18 * * ?",
         "Every 5 minutes between 14:00 and 14:55 and between 18:00 and 18:55"),
        ("0 0 12 * * ?", "At 12:00 every day"),
        ("0 15 10 ? * MON-FRI", "At 10:15 every weekday (Monday to Friday)"),
        ("0 15 10 L * ?", "At 10:15 on the last day of every month"),
        ("0 15 10 ? * 6#3", "At 10:15 on the third Friday of every month"),
        ("0 15 10 * * ? 2005", "At 10:15 every day in 2005"),
        ("0 11 11 11 11 ?", "At 11:11 on the 11th of November"),
        ("0 0 12 1/5 * ?", "At 12:00 every 5 days starting on the 1st of every month"),
        ("0 0/15 * * * ?", "Every 15 minutes"),
        ("0 0/7 * * * ?", "Every 7 minutes from minute 0 to 56 past the hour"),
        ("0 0 0/6 * * ?", "At 00:00, 06:00, 12:00 and 18:00 every day"),
        ("0 30 9 ? * MON,WED,FRI", "At 09:30 every Monday, Wednesday and Friday"),
        ("0 0 12 15W * ?", "At 12:00 on the weekday nearest the 15th of every month"),
        ("*/15 * * * *", "Every 15 minutes"),
    ],
)
def test_describe_reads_plainly(expr: str, text: str) -> None:
    assert describe(expr) == text


# --------------------------------------------------------------------------- basic schedules


def test_basic_weekly_schedule_round_trips_and_builds_quartz() -> None:
    basic = BasicSchedule.from_dict({"days": ["fri", "MON", "wed", "MON"], "time": "9:05"})
    assert basic.to_dict() == {"days": ["MON", "WED", "FRI"], "time": "09:05"}
    assert basic.to_cron() == "0 5 9 ? * MON,WED,FRI"
    assert BasicSchedule.from_dict(basic.to_dict()) == basic
    assert basic.describe() == "At 09:05 every Monday, Wednesday and Friday"
    weekdays = BasicSchedule(days=["MON", "TUE", "WED", "THU", "FRI"], time="18:30")
    assert weekdays.to_cron() == "0 30 18 ? * MON-FRI"
    daily = BasicSchedule(days=list(reversed(["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"])),
                          time="00:00")
    assert daily.to_cron() == "0 0 0 * * ?"
    for b in (basic, weekdays, daily):
        assert validate(b.to_cron()).kind == "quartz"


def test_basic_interval_schedules() -> None:
    every_15 = BasicSchedule.from_dict({"every": 15, "unit": "minutes"})
    assert every_15.to_cron() == "0 0/15 * * * ?"
    fires = times(every_15.to_cron(), utc(2024, 1, 1, 23, 50), 3)
    assert fires == [utc(2024, 1, 2, 0, 0), utc(2024, 1, 2, 0, 15), utc(2024, 1, 2, 0, 30)]
    every_2h = BasicSchedule(every=2, unit="hours")
    assert every_2h.to_cron() == "0 0 0/2 * * ?"
    assert every_2h.to_dict() == {"every": 2, "unit": "hours"}
    assert every_2h.describe() == "Every 2 hours (00:00, 02:00, … 22:00)"
    # Quartz minute steps restart every hour; the description says so instead of pretending.
    assert BasicSchedule(every=45, unit="minutes").describe().startswith("At minutes 0 and 45")
    for n in range(1, 60):
        validate(BasicSchedule(every=n, unit="minutes").to_cron())
    for n in range(1, 24):
        validate(BasicSchedule(every=n, unit="hours").to_cron())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"every": 0, "unit": "minutes"}, "schedule.every"),
        ({"every": 60, "unit": "minutes"}, "schedule.every"),
        ({"every": 24, "unit": "hours"}, "schedule.every"),
        ({"every": "5", "unit": "minutes"}, "schedule.every"),
        ({"every": True, "unit": "minutes"}, "schedule.every"),
        ({"unit": "minutes"}, "schedule.every"),
        ({"every": 5, "unit": "days"}, "schedule.unit"),
        ({"every": 5}, "schedule.unit"),
        ({"days": ["MON"], "time": "25:00"}, "schedule.time"),
        ({"days": ["MON"], "time": "12:60"}, "schedule.time"),
        ({"days": ["MON"], "time": "noon"}, "schedule.time"),
        ({"days": ["MON"]}, "schedule.time"),
        ({"days": ["FUNDAY"], "time": "09:00"}, "schedule.days"),
        ({"days": [], "time": "09:00"}, "schedule.days"),
        ({"days": "MON", "time": "09:00"}, "schedule.days"),
        ({"time": "09:00"}, "schedule.days"),
        ({"days": ["MON"], "time": "09:00", "every": 5, "unit": "minutes"}, "schedule"),
        ({}, "schedule"),
        ({"days": ["MON"], "time": "09:00", "tz": "UTC"}, "schedule"),
        ("every 5 minutes", "schedule"),
    ],
)
def test_basic_schedule_errors_name_the_field(data: object, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        BasicSchedule.from_dict(data)
    assert info.value.field == field


def test_validate_timezone() -> None:
    assert validate_timezone("Europe/London") == "Europe/London"
    assert validate_timezone(" UTC ") == "UTC"
    for bad in ("", "Mars/Olympus_Mons", "Europe", "../../etc/passwd", None, 5):
        with pytest.raises(ValidationError) as info:
            validate_timezone(bad)
        assert info.value.field == "schedule.timezone"


def test_schedule_module_does_not_import_textual() -> None:
    code = "import sys, peak_tui.schedule; sys.exit('textual' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ------------------------------------------------ property tests against a brute-force reference

MONTH_ABBR = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {n: i + 1 for i, n in enumerate(MONTH_ABBR)}
DOWS = {n: i + 1 for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}


def ref_item(item: str, v: int, lo: int, hi: int, names: dict[str, int]) -> bool:
    """Does value v match one list item? Range membership by position modulo the field's span."""
    base, slash, step_text = item.partition("/")
    step = int(step_text) if slash else 1

    def num(text: str) -> int:
        return names[text] if text in names else int(text)

    if base == "*":
        a, b = lo, hi
    elif "-" in base:
        a, b = (num(x) for x in base.split("-"))
    else:
        a = num(base)
        b = hi if slash else a
    span = hi - lo + 1
    pos = (v - a) % span
    return pos <= (b - a) % span and pos % step == 0


def ref_field(token: str, v: int, lo: int, hi: int, names: dict[str, int] | None = None) -> bool:
    return token in ("*", "?") or any(ref_item(i, v, lo, hi, names or {})
                                      for i in token.split(","))


def ref_day(dom: str, dow: str, d: date) -> bool:
    """Quartz day matching written directly from the tutorial's definitions."""
    last = calendar.monthrange(d.year, d.month)[1]
    q = d.isoweekday() % 7 + 1  # Quartz: 1=SUN .. 7=SAT
    if dom == "L":
        ok_dom = d.day == last
    elif dom.startswith("L-"):
        ok_dom = d.day == last - int(dom[2:])
    elif dom == "LW":
        ok_dom = d.weekday() < 5 and all(
            date(d.year, d.month, x).weekday() >= 5 for x in range(d.day + 1, last + 1))
    elif dom.endswith("W"):
        n = int(dom[:-1])
        weekdays = [x for x in range(1, last + 1) if date(d.year, d.month, x).weekday() < 5]
        ok_dom = n <= last and d.day == min(weekdays, key=lambda x: abs(x - n))
    else:
        ok_dom = ref_field(dom, d.day, 1, 31)
    if "#" in dow:
        wd, k = dow.split("#")
        ok_dow = q == (DOWS.get(wd) or int(wd)) and (d.day - 1) // 7 + 1 == int(k)
    elif dow == "L":
        ok_dow = q == 7
    elif dow.endswith("L"):
        ok_dow = q == (DOWS.get(dow[:-1]) or int(dow[:-1])) and d.day + 7 > last
    else:
        ok_dow = ref_field(dow, q, 1, 7, DOWS)
    return ok_dom and ok_dow


def ref_next(expr: str, after: datetime, n: int, horizon: datetime) -> list[datetime]:
    """Step day by day (then hour/minute/second) in UTC; collect fires in (after, horizon]."""
    f = expr.upper().split()
    year = f[6] if len(f) == 7 else "*"
    secs = [v for v in range(60) if ref_field(f[0], v, 0, 59)]
    mins = [v for v in range(60) if ref_field(f[1], v, 0, 59)]
    hrs = [v for v in range(24) if ref_field(f[2], v, 0, 23)]
    out: list[datetime] = []
    day = after.date()
    while day <= horizon.date() and day.year <= 2099 and len(out) < n:
        if (ref_field(year, day.year, 1970, 2099) and ref_field(f[4], day.month, 1, 12, MONTHS)
                and ref_day(f[3], f[5], day)):
            for h in hrs:
                for m in mins:
                    for s in secs:
                        t = datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)
                        if after < t <= horizon and len(out) < n:
                            out.append(t)
        day += timedelta(days=1)
    return out


def _items(lo: int, hi: int, names: tuple[str, ...] = (), base: int = 1) -> st.SearchStrategy[str]:
    value = st.integers(lo, hi).map(str)
    if names:
        value = value | st.integers(0, len(names) - 1).map(lambda i: names[i])
    rng = st.tuples(value, value).map("-".join)  # backwards ranges wrap, as in Quartz
    stepped = st.tuples(st.just("*") | value | rng, st.integers(1, hi - lo + 1)).map(
        lambda t: f"{t[0]}/{t[1]}")
    return st.lists(value | rng | stepped, min_size=1, max_size=3).map(",".join)


DOW_ABBR = tuple(DOWS)
seconds_st = st.integers(0, 59).map(str) | st.sampled_from(["0,30", "10-12", "*/20"])
minutes_st = st.just("*") | _items(0, 59)
hours_st = st.just("*") | _items(0, 23)
months_st = st.just("*") | _items(1, 12, MONTH_ABBR)
dom_st = st.one_of(
    st.just("*"), _items(1, 31), st.just("L"), st.just("LW"),
    st.integers(0, 5).map(lambda n: f"L-{n}"), st.integers(1, 31).map(lambda n: f"{n}W"),
)
dow_value = st.integers(1, 7).map(str) | st.sampled_from(DOW_ABBR)
dow_st = st.one_of(
    st.just("*"), st.just("L"), _items(1, 7, DOW_ABBR), dow_value.map(lambda d: f"{d}L"),
    st.tuples(dow_value, st.integers(1, 5)).map(lambda t: f"{t[0]}#{t[1]}"),
)
days_st = st.tuples(dom_st, st.just("?")) | st.tuples(st.just("?"), dow_st)
years_st = st.one_of(
    st.just(""), st.just(" *"),
    st.tuples(st.integers(2020, 2030), st.integers(0, 6)).map(lambda t: f" {t[0]}-{t[0] + t[1]}"),
    st.lists(st.integers(2023, 2032), min_size=1, max_size=3, unique=True).map(
        lambda ys: " " + ",".join(map(str, ys))),
)
quartz_st = st.builds(
    lambda s, m, h, days, mo, y: f"{s} {m} {h} {days[0]} {mo} {days[1]}{y}",
    seconds_st, minutes_st, hours_st, days_st, months_st, years_st,
)
after_st = st.datetimes(datetime(2023, 1, 1), datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC))
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _matches_reference(got: list[datetime], want: list[datetime], n: int,
                       horizon: datetime) -> None:
    assert got[: len(want)] == want
    if len(want) < n:  # the reference stopped at its horizon; anything more lies beyond it
        assert len(got) == len(want) or got[len(want)] > horizon


@FAST
@given(expr=quartz_st, after=after_st)
def test_next_times_match_brute_force_reference(expr: str, after: datetime) -> None:
    horizon = after + timedelta(days=1500)
    want = ref_next(expr, after, 3, horizon)
    try:
        got = next_times(expr, after, 3)
    except ValidationError as e:
        assert "never fires" in e.rule
        assert want == []
        return
    _matches_reference(got, want, 3, horizon)


@FAST
@given(expr=quartz_st)
def test_describe_never_crashes(expr: str) -> None:
    text = describe(expr)
    assert text and text[0].isupper() and "  " not in text and not text.endswith(" ")


SPECIAL_DAYS = (
    [(f"{n}W", "?") for n in range(1, 32)] + [("L", "?"), ("LW", "?")]
    + [(f"L-{n}", "?") for n in range(0, 31, 3)]
    + [("?", f"{d}L") for d in range(1, 8)] + [("?", "L")]
    + [("?", f"{d}#{k}") for d in range(1, 8) for k in range(1, 6)]
)


@pytest.mark.parametrize(("dom", "dow"), SPECIAL_DAYS)
def test_special_days_match_reference_over_four_years(dom: str, dow: str) -> None:
    expr = f"0 0 12 {dom} * {dow}"
    start, horizon = utc(2024, 1, 1), utc(2027, 12, 31, 23)
    want = ref_next(expr, start, 60, horizon)
    assert want  # every one of these fires within four years
    assert times(expr, start, len(want)) == want


unix_st = st.builds(
    lambda m, h, days, mo: f"{m} {h} {days[0]} {mo} {days[1]}",
    minutes_st, hours_st,
    st.tuples(_items(1, 31), st.just("*")) | st.tuples(st.just("*"), _items(0, 7, DOW_ABBR, 0)),
    months_st,
)
UNIX_DOWS = {n: i for i, n in enumerate(DOW_ABBR)}


def ref_unix_next(expr: str, after: datetime, n: int, horizon: datetime) -> list[datetime]:
    """Vixie-cron semantics (day of week 0 and 7 are Sunday), stepping day by day in UTC."""
    m_tok, h_tok, dom, mon, dow = expr.upper().split()
    out: list[datetime] = []
    day = after.date()
    while day <= horizon.date() and len(out) < n:
        w = day.isoweekday() % 7  # 0=SUN
        dow_ok = ref_field(dow, w, 0, 7, UNIX_DOWS) or (
            w == 0 and ref_field(dow, 7, 0, 7, UNIX_DOWS))
        if (ref_field(mon, day.month, 1, 12, MONTHS) and ref_field(dom, day.day, 1, 31)
                and dow_ok):
            for h in range(24):
                for m in range(60):
                    t = datetime(day.year, day.month, day.day, h, m, tzinfo=UTC)
                    if (ref_field(h_tok, h, 0, 23) and ref_field(m_tok, m, 0, 59)
                            and after < t <= horizon and len(out) < n):
                        out.append(t)
        day += timedelta(days=1)
    return out


@settings(max_examples=80, deadline=None)
@given(expr=unix_st, after=after_st)
def test_unix_form_matches_vixie_reference(expr: str, after: datetime) -> None:
    horizon = after + timedelta(days=800)
    want = ref_unix_next(expr, after, 3, horizon)
    try:
        got = next_times(expr, after, 3)
    except ValidationError as e:
        assert "never fires" in e.rule
        assert want == []
        return
    assert parse(expr).kind == "unix"
    _matches_reference(got, want, 3, horizon)


TRANSITIONS = {
    "Europe/London": [utc(2024, 3, 31, 1), utc(2024, 10, 27, 1), utc(2025, 3, 30, 1)],
    "America/New_York": [utc(2024, 3, 10, 7), utc(2024, 11, 3, 6), utc(2025, 11, 2, 6)],
}


def ref_dst_next(expr: str, tz: str, after: datetime, n: int, horizon: datetime) -> list[datetime]:
    """Fire at instant u if u is the first occurrence of a matching wall time, or if u ends a
    DST gap that swallowed a matching wall time. Steps through UTC minute by minute."""
    s_tok, m_tok, h_tok = expr.split()[:3]
    zone = ZoneInfo(tz)
    sec = int(s_tok)

    def wall_ok(h: int, m: int) -> bool:
        return ref_field(h_tok, h, 0, 23) and ref_field(m_tok, m, 0, 59)

    out: list[datetime] = []
    u = after.replace(second=0, microsecond=0)
    while u <= horizon and len(out) < n:
        before, now = (u - timedelta(seconds=1)).astimezone(zone), u.astimezone(zone)
        hits = []
        if now.utcoffset() > before.utcoffset():  # u ends a gap of non-existent wall times
            w = before.replace(tzinfo=None, second=0) + timedelta(minutes=1)
            while w < now.replace(tzinfo=None):
                if wall_ok(w.hour, w.minute):
                    hits.append(u)
                    break
                w += timedelta(minutes=1)
        fire = (u + timedelta(seconds=sec)).astimezone(zone)
        if fire.fold == 0 and wall_ok(fire.hour, fire.minute):
            hits.append(u + timedelta(seconds=sec))
        for t in sorted(set(hits)):
            if after < t <= horizon and len(out) < n:
                out.append(t)
        u += timedelta(minutes=1)
    return out


@settings(max_examples=60, deadline=None)
@given(
    tz=st.sampled_from(sorted(TRANSITIONS)),
    which=st.integers(0, 2),
    offset=st.integers(-180, 60),
    sec=st.sampled_from([0, 0, 30]),
    minutes=minutes_st,
    hours=st.just("*") | _items(0, 23) | st.sampled_from(["1", "2", "1,2", "0-3"]),
)
def test_dst_behaviour_matches_instant_stepping_reference(
    tz: str, which: int, offset: int, sec: int, minutes: str, hours: str
) -> None:
    after = TRANSITIONS[tz][which] + timedelta(minutes=offset)
    expr = f"{sec} {minutes} {hours} * * ?"
    horizon = after + timedelta(hours=8)
    want = ref_dst_next(expr, tz, after, 4, horizon)
    got = next_times(expr, after, 4, tz)
    _matches_reference(as_utc(got), want, 4, horizon)
