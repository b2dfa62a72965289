"""Schedules: Quartz and 5-field Unix cron parsing, validation, next fire times and plain English.

Pure engine code (no UI, no I/O). Quartz is the product's native form, as Peak documents it:
``seconds minutes hours day-of-month month day-of-week [year]`` with ``? L W #``, day-of-week 1=SUN.
The evaluator is our own rather than croniter's, because croniter numbers days of week differently
(0=SUN, ``L5`` for "last Friday") and we need exact control over DST behaviour.
"""
from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from peak_tui.errors import ValidationError

MAX_LENGTH = 1000  # the longest sensible expression lists every value of each field
YEAR_MIN = 1970
YEAR_MAX = 2099
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # Quartz numbers these 1..7
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")  # the order a user reads a week in
UNITS = ("minutes", "hours")

__all__ = [
    "BasicSchedule", "CronExpr", "DayRule", "describe", "next_times", "parse", "validate",
    "validate_timezone",
]


# ---------------------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Field:
    """One cron field's name (as used in error fields), label, bounds and optional names."""

    name: str
    label: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    name_base: int = 1
    cyclic: bool = True


_SECONDS = _Field("seconds", "seconds", 0, 59)
_MINUTES = _Field("minutes", "minutes", 0, 59)
_HOURS = _Field("hours", "hours", 0, 23)
_DOM = _Field("day_of_month", "day-of-month", 1, 31)
_MONTH = _Field("month", "month", 1, 12, MONTH_NAMES, 1)
_DOW = _Field("day_of_week", "day-of-week", 1, 7, DAY_NAMES, 1)
_UNIX_DOW = _Field("day_of_week", "day-of-week", 0, 7, DAY_NAMES, 0)
_YEAR = _Field("year", "year", YEAR_MIN, YEAR_MAX, cyclic=False)
_NUMBER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class DayRule:
    """How a day-of-month or day-of-week field picks days.

    kinds: ``any``; ``set`` (``values``); day-of-month ``last`` (``n`` days before the last day),
    ``last_weekday`` (LW), ``nearest_weekday`` (``n``W); day-of-week ``last`` (last ``weekday``)
    and ``nth`` (``weekday``#``n``). Weekdays use Quartz numbers, 1=SUN .. 7=SAT.
    """

    kind: Literal["any", "set", "last", "last_weekday", "nearest_weekday", "nth"]
    values: frozenset[int] = frozenset()
    n: int = 0
    weekday: int = 0


@dataclass(frozen=True)
class CronExpr:
    """A parsed cron expression in Quartz terms; ``quartz`` is the normalised string to store."""

    source: str
    kind: Literal["quartz", "unix"]
    quartz: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    day_of_month: DayRule
    months: tuple[int, ...]
    day_of_week: DayRule
    years: tuple[int, ...]

    def __str__(self) -> str:
        return self.quartz


def _err(f: _Field, rule: str, token: str) -> ValidationError:
    return ValidationError(f"cron.{f.name}", rule, token)


def _value(text: str, f: _Field, token: str) -> int:
    if _NUMBER.fullmatch(text):
        v = int(text)
    elif f.names and text in f.names:
        v = f.names.index(text) + f.name_base
    else:
        what = "a number or name" if f.names else "a number"
        shown = f"'{text}'" if text else "an empty value"
        raise _err(f, f"{shown} is not {what}", token)
    if not f.lo <= v <= f.hi:
        raise _err(f, f"{v} is outside {f.lo}-{f.hi}", token)
    return v


def _parse_list(token: str, f: _Field) -> frozenset[int]:
    """A list of ``*``, values, ranges and steps (``0/15``, ``*/5``, ``10-20/2``, ``FRI-MON``)."""
    values: set[int] = set()
    for part in token.split(","):
        if not part:
            raise _err(f, "has an empty item in its list", token)
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            span = f.hi - f.lo + 1
            if not _NUMBER.fullmatch(step_text) or not 1 <= int(step_text) <= span:
                raise _err(f, f"step after '/' must be a number from 1 to {span}", token)
            step = int(step_text)
        if base == "*":
            start, end = f.lo, f.hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, f, token), _value(b, f, token)
        else:
            start = _value(base, f, token)
            end = f.hi if slash else start
        if start <= end:
            seq = list(range(start, end + 1))
        elif f.cyclic:  # Quartz wraps ranges such as FRI-MON or 22-2
            seq = list(range(start, f.hi + 1)) + list(range(f.lo, end + 1))
        else:
            raise _err(f, f"range {start}-{end} runs backwards", token)
        values.update(seq[::step])
    return frozenset(values)


def _bare(token: str, f: _Field) -> str:
    """The token with the field's names removed, so 'JUL' or 'WED' do not look like L or W."""
    for name in f.names:
        token = token.replace(name, "")
    return token


def _plain(token: str, f: _Field) -> tuple[int, ...]:
    bare = _bare(token, f)
    for ch in "?LW#":
        if ch in bare:
            raise _err(f, f"'{ch}' is only allowed in day-of-month or day-of-week", token)
    return tuple(sorted(_parse_list(token, f)))


def _parse_dom(token: str) -> DayRule:
    f = _DOM
    if token in ("?", "*"):
        return DayRule("any")
    if "?" in token:
        raise _err(f, "'?' must be the whole field", token)
    if "#" in token:
        raise _err(f, "'#' is only allowed in day-of-week", token)
    if "L" in token or "W" in token:
        if "," in token or "/" in token:
            raise _err(f, "'L' and 'W' cannot be combined with lists or steps", token)
        if token == "L":
            return DayRule("last")
        if token == "LW":
            return DayRule("last_weekday")
        if m := re.fullmatch(r"L-([0-9]+)", token):
            if int(m[1]) > 30:
                raise _err(f, "'L-n' needs n from 0 to 30", token)
            return DayRule("last", n=int(m[1]))
        if m := re.fullmatch(r"([0-9]+)W", token):
            return DayRule("nearest_weekday", n=_value(m[1], f, token))
        raise _err(f, "use 'L', 'L-3', 'LW' or '15W' for last/nearest-weekday days", token)
    values = _parse_list(token, f)
    return DayRule("any") if len(values) == 31 else DayRule("set", values)


def _parse_dow(token: str) -> DayRule:
    f = _DOW
    if token in ("?", "*"):
        return DayRule("any")
    if "?" in token:
        raise _err(f, "'?' must be the whole field", token)
    if "W" in _bare(token, f):
        raise _err(f, "'W' is only allowed in day-of-month", token)
    if "#" in token:
        m = re.fullmatch(r"([A-Z0-9]+)#([0-9]+)", token)
        if not m:
            raise _err(f, "'#' must stand alone as day#n, e.g. 6#3 for the third Friday", token)
        weekday = _value(m[1], f, token)
        if not 1 <= int(m[2]) <= 5:
            raise _err(f, "'#n' needs n from 1 to 5", token)
        return DayRule("nth", n=int(m[2]), weekday=weekday)
    if "L" in token:
        if token == "L":  # Quartz: L alone in day-of-week means 7 (SAT)
            return DayRule("set", frozenset({7}))
        m = re.fullmatch(r"([A-Z0-9]+)L", token)
        if not m:
            raise _err(f, "'L' must be written alone as dayL, e.g. 6L for the last Friday", token)
        return DayRule("last", weekday=_value(m[1], f, token))
    values = _parse_list(token, f)
    return DayRule("any") if len(values) == 7 else DayRule("set", values)


def _week_token(values: frozenset[int]) -> str:
    """Quartz day-of-week text for a set of Quartz day numbers, e.g. MON-FRI or SUN,SAT."""
    return ",".join(
        f"{DAY_NAMES[a - 1]}-{DAY_NAMES[b - 1]}" if b - a >= 2
        else ",".join(DAY_NAMES[d - 1] for d in range(a, b + 1))
        for a, b in _runs(sorted(values))
    )


def parse(expr: str) -> CronExpr:
    """Parse 6/7-field Quartz or 5-field Unix cron; a ValidationError names the failing field."""
    if not isinstance(expr, str):
        raise ValidationError("cron", "must be a string", expr)
    if len(expr) > MAX_LENGTH:
        raise ValidationError("cron", f"must be at most {MAX_LENGTH} characters", None,
                              show_value=False)
    parts = expr.upper().split()
    if not parts:
        raise ValidationError("cron", "is required", expr)
    if len(parts) == 5:
        return _parse_unix(expr, parts)
    if len(parts) not in (6, 7):
        raise ValidationError(
            "cron",
            f"must have 6 or 7 fields (Quartz: seconds minutes hours day-of-month month "
            f"day-of-week [year]) or 5 (Unix); got {len(parts)}",
            expr,
        )
    return _parse_quartz(expr, parts, "quartz")


def _parse_quartz(source: str, parts: list[str], kind: Literal["quartz", "unix"]) -> CronExpr:
    seconds = _plain(parts[0], _SECONDS)
    minutes = _plain(parts[1], _MINUTES)
    hours = _plain(parts[2], _HOURS)
    dom = _parse_dom(parts[3])
    months = _plain(parts[4], _MONTH)
    dow = _parse_dow(parts[5])
    years = _plain(parts[6], _YEAR) if len(parts) == 7 else tuple(range(YEAR_MIN, YEAR_MAX + 1))
    if parts[3] == "?" and parts[5] == "?":
        raise ValidationError(
            "cron.day_of_month",
            "day-of-month and day-of-week cannot both be '?'; write '*' in one of them",
            source,
        )
    if parts[3] != "?" and parts[5] != "?":
        raise ValidationError(
            "cron.day_of_week",
            "one of day-of-month and day-of-week must be '?' (Quartz cannot match both), "
            "e.g. '0 0 12 * * ?' or '0 0 12 ? * MON'",
            source,
        )
    return CronExpr(source, kind, " ".join(parts), seconds, minutes, hours, dom, months, dow, years)


def _parse_unix(source: str, parts: list[str]) -> CronExpr:
    fields = (_MINUTES, _HOURS, _DOM, _MONTH, _UNIX_DOW)
    for token, f in zip(parts, fields, strict=True):
        for ch in "?LW#":
            if ch in _bare(token, f):
                raise _err(f, f"'{ch}' is Quartz syntax; use the 6-field Quartz form", token)
    _plain(parts[0], _MINUTES)
    _plain(parts[1], _HOURS)
    dom_full = len(_parse_list(parts[2], _DOM)) == 31
    _plain(parts[3], _MONTH)
    dow_values = frozenset(v % 7 + 1 for v in _parse_list(parts[4], _UNIX_DOW))
    dow_full = len(dow_values) == 7
    if not dom_full and not dow_full:
        raise ValidationError(
            "cron.day_of_week",
            "the 5-field form cannot restrict both day-of-month and day-of-week (Unix cron "
            "would match either); use the Quartz form with '?' in one of them",
            source,
        )
    dom = "?" if dom_full and not dow_full else parts[2]
    dow = "?" if dow_full else _week_token(dow_values)
    return _parse_quartz(source, ["0", parts[0], parts[1], dom, parts[3], dow], "unix")


# ------------------------------------------------------------------------------------- evaluation


def _runs(values: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive runs in sorted values: [1,2,3,7] -> [(1,3), (7,7)]."""
    out: list[tuple[int, int]] = []
    for v in values:
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _month_days(cron: CronExpr, year: int, month: int) -> list[int]:
    """The days of one month on which the expression fires, ascending."""
    last = calendar.monthrange(year, month)[1]
    first = (date(year, month, 1).weekday() + 1) % 7 + 1  # Quartz weekday of the 1st

    def wd(day: int) -> int:
        return (first - 1 + day - 1) % 7 + 1

    dom, dow = cron.day_of_month, cron.day_of_week
    by_dom: list[int] | None = None
    if dom.kind == "set":
        by_dom = [d for d in sorted(dom.values) if d <= last]
    elif dom.kind == "last":
        by_dom = [last - dom.n] if last - dom.n >= 1 else []
    elif dom.kind == "last_weekday":
        by_dom = [last - {7: 1, 1: 2}.get(wd(last), 0)]
    elif dom.kind == "nearest_weekday":
        n = dom.n
        if n > last:
            by_dom = []
        elif wd(n) == 7:  # Saturday: Friday before, unless that leaves the month
            by_dom = [n - 1 if n > 1 else n + 2]
        elif wd(n) == 1:  # Sunday: Monday after, unless that leaves the month
            by_dom = [n + 1 if n < last else n - 2]
        else:
            by_dom = [n]
    by_dow: list[int] | None = None
    if dow.kind == "set":
        by_dow = [d for d in range(1, last + 1) if wd(d) in dow.values]
    elif dow.kind in ("last", "nth"):
        first_match = 1 + (dow.weekday - first) % 7
        if dow.kind == "last":
            by_dow = [first_match + 7 * ((last - first_match) // 7)]
        else:
            day = first_match + 7 * (dow.n - 1)
            by_dow = [day] if day <= last else []
    if by_dom is None:
        return list(range(1, last + 1)) if by_dow is None else by_dow
    if by_dow is None:
        return by_dom
    return sorted(set(by_dom) & set(by_dow))


@lru_cache(maxsize=256)
def _ever_fires(cron: CronExpr) -> bool:
    return any(_month_days(cron, y, m) for y in cron.years for m in cron.months)


def _walls(cron: CronExpr, start: datetime) -> Iterator[datetime]:
    """Matching local wall-clock times from ``start`` (naive) on, ascending, up to YEAR_MAX."""
    times = [(h, m, s) for h in cron.hours for m in cron.minutes for s in cron.seconds]
    first_day = start.date()
    first_time = (start.hour, start.minute, start.second)
    for year in cron.years:
        if year < first_day.year:
            continue
        for month in cron.months:
            if (year, month) < (first_day.year, first_day.month):
                continue
            for day in _month_days(cron, year, month):
                d = date(year, month, day)
                if d < first_day:
                    continue
                for t in times:
                    if d == first_day and t < first_time:
                        continue
                    yield datetime(year, month, day, *t)


def _resolve(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a wall time fires at: its first occurrence, or the end of a DST gap."""
    instant = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0 is the first occurrence
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # The wall time does not exist (spring forward): find the transition by bisection.
    a = int(wall.replace(tzinfo=zone, fold=0).timestamp())
    b = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    lo, hi = min(a, b), max(a, b)
    after = datetime.fromtimestamp(hi, UTC).astimezone(zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def validate_timezone(name: Any) -> str:
    """An IANA time zone name (e.g. Europe/London) that zoneinfo knows; returns its key."""
    if isinstance(name, str) and not name.strip():
        raise ValidationError("schedule.timezone", "is required", name)
    try:
        if not isinstance(name, str):
            raise ValueError(name)
        return ZoneInfo(name.strip()).key
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            "schedule.timezone", "is not an IANA time zone name like Europe/London or UTC", name
        ) from None


def _never_fires(cron: CronExpr) -> ValidationError:
    return ValidationError(
        "cron", "never fires: no date matches its day, month and year fields together", cron.quartz
    )


def validate(expr: str) -> CronExpr:
    """Parse and enforce the product's rules: at most once a minute, and it must fire some day."""
    cron = parse(expr)
    if len(cron.seconds) > 1:
        raise ValidationError(
            "cron.seconds",
            "fires more than once a minute; the seconds field must be a single value such as 0",
            cron.quartz.split()[0],
        )
    if not _ever_fires(cron):
        raise _never_fires(cron)
    return cron


def next_times(
    expr: str | CronExpr, after: datetime, n: int = 5, tz: str = "UTC"
) -> list[datetime]:
    """The next ``n`` fire times strictly after ``after``, as aware datetimes in zone ``tz``.

    A wall time in a spring-forward gap fires once at the first instant after the gap; an
    ambiguous fall-back time fires once, at its first occurrence. Nothing fires after 2099, so
    fewer than ``n`` (even none) may come back; an expression that can never fire raises.
    Compare results with ``.timestamp()`` or in UTC: Python never calls an ambiguous local time
    ``==`` to an instant in another zone (PEP 495).
    """
    cron = expr if isinstance(expr, CronExpr) else parse(expr)
    if not isinstance(after, datetime) or after.utcoffset() is None:
        raise ValidationError("after", "must be a timezone-aware datetime", after)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValidationError("n", "must be a whole number of at least 1", n)
    zone = ZoneInfo(validate_timezone(tz))
    if not _ever_fires(cron):
        raise _never_fires(cron)
    if after.year > YEAR_MAX:
        return []
    after_utc = after.astimezone(UTC)
    local = after_utc.astimezone(zone).replace(tzinfo=None)
    # Wall clocks jump around DST changes; a day's margin covers any offset change.
    start = max(local, datetime(YEAR_MIN, 1, 2)) - timedelta(hours=26)
    out: list[datetime] = []
    last: datetime | None = None
    for wall in _walls(cron, start):
        instant = _resolve(wall, zone)
        if instant <= after_utc or (last is not None and instant <= last):
            continue
        out.append(instant.astimezone(zone))
        last = instant
        if len(out) == n:
            break
    return out


# --------------------------------------------------------------------------------------- describe

_ORDINAL_WORDS = ("first", "second", "third", "fourth", "fifth")
_DAY_WORDS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _ranges(values: Sequence[int], fmt: Any = str, sep: str = "-") -> str:
    return _join([
        f"{fmt(a)}{sep}{fmt(b)}" if b - a >= 2 else ", ".join(fmt(v) for v in range(a, b + 1))
        for a, b in _runs(values)
    ])


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _step(values: Sequence[int]) -> int:
    """The common difference of an arithmetic progression of 3+ values, else 0."""
    if len(values) < 3:
        return 0
    k = values[1] - values[0]
    ok = all(b - a == k for a, b in pairwise(values))
    return k if ok else 0


def _clock(h: int, m: int, s: int = 0) -> str:
    return f"{h:02d}:{m:02d}" + (f":{s:02d}" if s else "")


def _time_phrase(secs: tuple[int, ...], mins: tuple[int, ...], hrs: tuple[int, ...]) -> str:
    if len(secs) > 1:
        k = _step(secs)
        if len(secs) == 60:
            text = "Every second"
        elif k > 1 and secs[0] < k and secs[-1] + k > 59 and 60 % k == 0:
            text = f"Every {k} seconds" + (f" from second {secs[0]}" if secs[0] else "")
        else:
            text = f"At seconds {_ranges(secs)}"
        if len(mins) == 60 and len(hrs) == 24:
            return text
        rest = _time_phrase((0,), mins, hrs)
        return f"{text}, {rest[0].lower()}{rest[1:]}"
    s = secs[0]
    if len(mins) == 1:
        m = mins[0]
        if len(hrs) <= 4:
            return "At " + _join([_clock(h, m, s) for h in hrs])
        at = f"at minute {m}" + (f" and second {s}" if s else "")
        if len(hrs) == 24:
            return f"Every hour {at}"
        if (k := _step(hrs)) > 1 and hrs[0] < k and hrs[-1] + k > 23:
            return f"Every {k} hours ({_clock(hrs[0], m, s)}, {_clock(hrs[1], m, s)}, … " \
                   f"{_clock(hrs[-1], m, s)})"
        return f"At minute {m} of hours {_ranges(hrs, lambda h: f'{h:02d}')}"
    k = _step(mins)
    if len(mins) == 60:
        text = "Every minute"
    elif k == 1:
        text = f"Every minute from minute {mins[0]} to {mins[-1]} past the hour"
    elif k and mins[0] < k and mins[-1] + k > 59 and 60 % k == 0:
        text = f"Every {k} minutes" + (f" from minute {mins[0]}" if mins[0] else "")
    elif k:
        text = f"Every {k} minutes from minute {mins[0]} to {mins[-1]} past the hour"
    else:
        text = f"At minutes {_ranges(mins)}"
    if s:
        text += f" at second {s}"
    if len(hrs) == 24:
        return text
    runs = _runs(hrs)
    if len(runs) > 3:
        return f"{text} during hours {_ranges(hrs, lambda h: f'{h:02d}')}"
    return text + " " + " and ".join(
        f"between {_clock(a, mins[0])} and {_clock(b, mins[-1])}" for a, b in runs
    )


def _day_phrase(cron: CronExpr, at_form: bool) -> str:
    dom, dow = cron.day_of_month, cron.day_of_week
    monthly = True
    if dow.kind == "set":
        monthly = False
        days = sorted(dow.values)
        names = [_DAY_WORDS[d - 1] + ("" if at_form else "s") for d in days]
        if days == [2, 3, 4, 5, 6]:
            day = "every weekday (Monday to Friday)" if at_form else "on weekdays"
        elif days == [1, 7]:
            day = "every Saturday and Sunday" if at_form else "at weekends"
        else:
            day = ("every " if at_form else "on ") + _join(names)
    elif dow.kind == "last":
        day = f"on the last {_DAY_WORDS[dow.weekday - 1]} of"
    elif dow.kind == "nth":
        day = f"on the {_ORDINAL_WORDS[dow.n - 1]} {_DAY_WORDS[dow.weekday - 1]} of"
    elif dom.kind == "set":
        values = sorted(dom.values)
        k = _step(values)
        if k > 1 and values[-1] + k > 31:
            day = f"every {k} days starting on the {_ordinal(values[0])} of"
        elif len(values) <= 4:
            day = f"on the {_join([_ordinal(v) for v in values])} of"
        else:
            day = f"on days {_ranges(values)} of"
    elif dom.kind == "last":
        before = "" if dom.n == 0 else f"{dom.n} day{'s' if dom.n > 1 else ''} before "
        day = f"on {before}the last day of" if before else "on the last day of"
    elif dom.kind == "last_weekday":
        day = "on the last weekday of"
    elif dom.kind == "nearest_weekday":
        day = f"on the weekday nearest the {_ordinal(dom.n)} of"
    else:
        monthly = False
        day = "every day" if at_form else ""
    months = _ranges(list(cron.months), lambda m: calendar.month_name[m], " to ")
    if monthly:
        return day + (" every month" if len(cron.months) == 12 else f" {months}")
    month_text = "" if len(cron.months) == 12 else f" in {months}"
    return (day + month_text).strip()


def describe(expr: str | CronExpr) -> str:
    """A plain-English reading, e.g. 'At 10:15 on the last Friday of every month'."""
    cron = expr if isinstance(expr, CronExpr) else parse(expr)
    time = _time_phrase(cron.seconds, cron.minutes, cron.hours)
    days = _day_phrase(cron, at_form=time.startswith("At "))
    text = f"{time} {days}" if days else time
    if len(cron.years) != YEAR_MAX - YEAR_MIN + 1:
        runs = _runs(cron.years)
        single_span = len(runs) == 1 and runs[0][1] - runs[0][0] >= 2
        text += (" from " if single_span else " in ") + _ranges(cron.years, sep=" to ")
    return text


# ---------------------------------------------------------------------------------- basic schedule


@dataclass
class BasicSchedule:
    """A simple schedule: on some weekdays at HH:MM, or every N minutes/hours (see ``to_cron``)."""

    days: list[str] | None = None
    time: str | None = None
    every: int | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        """Validate and normalise: days upper-case in week order, time as HH:MM, unit plural."""
        weekly = self.days is not None or self.time is not None
        interval = self.every is not None or self.unit is not None
        if weekly and interval:
            raise ValidationError(
                "schedule", "use either days and time, or every and unit, not both", None,
                show_value=False,
            )
        if not weekly and not interval:
            raise ValidationError(
                "schedule", "needs either days and time, or every and unit", None,
                show_value=False,
            )
        if weekly:
            self.days = _basic_days(self.days)
            self.time = _basic_time(self.time)
        else:
            self.unit = _basic_unit(self.unit)
            self.every = _basic_every(self.every, self.unit)

    @classmethod
    def from_dict(cls, data: Any) -> BasicSchedule:
        """Build from a stored mapping ({days, time} or {every, unit}); unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise ValidationError("schedule", "must be a table of days/time or every/unit", data)
        unknown = sorted(set(data) - {"days", "time", "every", "unit"})
        if unknown:
            raise ValidationError(
                "schedule", f"unknown key '{unknown[0]}'; expected days, time, every, unit",
                unknown[0],
            )
        return cls(data.get("days"), data.get("time"), data.get("every"), data.get("unit"))

    def to_dict(self) -> dict[str, Any]:
        """The mapping to store: {days, time} or {every, unit}."""
        if self.days is not None:
            return {"days": list(self.days), "time": self.time}
        return {"every": self.every, "unit": self.unit}

    def to_cron(self) -> str:
        """The Quartz string, e.g. ``0 30 9 ? * MON-FRI`` or ``0 0/15 * * * ?``."""
        if self.days is not None and self.time is not None:
            hh, mm = self.time.split(":")
            if len(self.days) == 7:
                return f"0 {int(mm)} {int(hh)} * * ?"
            week = _week_token(frozenset(DAY_NAMES.index(d) + 1 for d in self.days))
            return f"0 {int(mm)} {int(hh)} ? * {week}"
        if self.unit == "minutes":
            return f"0 0/{self.every} * * * ?"
        return f"0 0 0/{self.every} * * ?"

    def describe(self) -> str:
        """Plain English for the schedule (honest about minute steps restarting each hour)."""
        return describe(self.to_cron())


def _basic_days(days: Any) -> list[str]:
    if not isinstance(days, (list, tuple)) or not days:
        raise ValidationError("schedule.days", "pick at least one day (MON..SUN)", days)
    chosen: set[str] = set()
    for d in days:
        if not isinstance(d, str) or d.strip().upper() not in WEEKDAYS:
            raise ValidationError("schedule.days", f"must be among {', '.join(WEEKDAYS)}", d)
        chosen.add(d.strip().upper())
    return [d for d in WEEKDAYS if d in chosen]


def _basic_time(value: Any) -> str:
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2})", value.strip()) if isinstance(value, str) else None
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValidationError("schedule.time", "must be HH:MM in 24-hour time, e.g. 09:30", value)
    return f"{int(m[1]):02d}:{m[2]}"


def _basic_unit(value: Any) -> str:
    unit = value.strip().lower() if isinstance(value, str) else value
    unit = {"minute": "minutes", "hour": "hours"}.get(unit, unit)
    if unit not in UNITS:
        raise ValidationError("schedule.unit", "must be 'minutes' or 'hours'", value)
    return unit


def _basic_every(value: Any, unit: str) -> int:
    top = 59 if unit == "minutes" else 23
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        hint = "use hours for longer" if unit == "minutes" else "use days and time for daily runs"
        raise ValidationError(
            "schedule.every",
            f"must be a whole number of {unit} from 1 to {top} (Quartz steps restart every "
            f"{'hour' if unit == 'minutes' else 'day'}; {hint})",
            value,
        )
    return value
