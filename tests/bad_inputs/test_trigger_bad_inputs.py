"""Bad triggers, schedules, watchers, time zones and SMTP settings: each gets its exact, clear error
and leaves the workspace (every table of its database and of the warehouse) exactly as it was.

Schedule and trigger cases update a feed that already has a valid schedule and watchers, so a
refused change must also leave its stored trigger, next run and scheduler state alone. The webhook
endpoint's bad requests are in test_webhook_bad_inputs.py.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import pytest

from peak_tui.errors import PeakError, ValidationError
from peak_tui.models import Connection, Feed
from peak_tui.notify_settings import update_smtp
from peak_tui.schedule_state import set_workspace_timezone
from peak_tui.workspace import Workspace

Act = Callable[[Workspace], Any]
GOOD_CRON = "0 0 6 ? * MON-FRI"
WATCHERS = [{"events": ["failure"], "channel": "email", "to": ["ops@example.com"]}]
EMAIL = {"events": ["failure"], "channel": "email", "to": ["ops@example.com"]}
HOOK = {"events": ["failure"], "channel": "webhook", "name": "ops", "url": "https://hooks.example.com/x"}


def dump(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the workspace database and the warehouse."""
    out: dict[str, list[dict[str, Any]]] = {}
    for label, path in (("ws", ws.home / "peak.db"), ("wh", ws.local.path)):
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"):
            out[f"{label}.{table}"] = [dict(r) for r in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')]
        conn.close()
    return out


def trigger(t: Any) -> Act:
    """Change the existing scheduled feed's trigger."""
    return lambda ws: ws.feeds.save(Feed(name="existing", connection="api", script="x = 1\n",
                                         trigger=t, watchers=WATCHERS), create=False)


def cron(expr: Any) -> Act:
    return trigger({"type": "schedule", "cron": expr, "timezone": "Europe/London"})


def basic(b: Any) -> Act:
    return trigger({"type": "schedule", "basic": b})


def watcher(w: dict[str, Any]) -> Act:
    """Create a new feed with one watcher."""
    return lambda ws: ws.feeds.save(Feed(name="newfeed", connection="api", script="x = 1\n",
                                         watchers=[EMAIL, w]), create=True)


def smtp(**changes: Any) -> Act:
    return lambda ws: update_smtp(ws, **changes)


def zone(name: Any) -> Act:
    return lambda ws: set_workspace_timezone(ws, name)


FIELDS = "(Quartz: seconds minutes hours day-of-month month day-of-week [year]) or 5 (Unix)"
TWICE = "fires more than once a minute; the seconds field must be a single value such as 0"
NEVER = "cron: never fires: no date matches its day, month and year fields together"
QUARTZ_ONLY = "is Quartz syntax; use the 6-field Quartz form"
NOT_ZONE = "schedule.timezone: is not an IANA time zone name like Europe/London or UTC"
EVERY_MIN = ("schedule.every: must be a whole number of minutes from 1 to 59 (Quartz steps restart "
             "every hour; use hours for longer)")
EVERY_H = ("schedule.every: must be a whole number of hours from 1 to 23 (Quartz steps restart every "
           "day; use days and time for daily runs)")
W0 = "feed.watchers[1]"
NOT_EMAIL = f"{W0}.to: must be an email address like name@example.com"
TEMPLATE = f"{W0}.payload: must be a JSON template ({{feed}}-style placeholders allowed); not valid " \
           "JSON once filled in: Expecting ',' delimiter: line 1 column"
PLACEHOLDERS = ("{feed}, {run_id}, {status}, {records}, {duration}, {error}, {event}, {trigger}, "
                "{started_at}, {ended_at}, {failed_rows}, {runtime_minutes}, {catch_up}")
BIG = "9" * 900

CASES: list[tuple[str, Act, str]] = [
    # Quartz: field counts, ranges per field, names
    ("q-8-fields", cron("0 0 12 * * ? 2030 x"), f"cron: must have 6 or 7 fields {FIELDS}; got 8 "
                                                "(got '0 0 12 * * ? 2030 x')"),
    ("q-4-fields", cron("0 0 12 *"), f"cron: must have 6 or 7 fields {FIELDS}; got 4 (got '0 0 12 *')"),
    ("q-seconds-60", cron("60 0 12 * * ?"), "cron.seconds: 60 is outside 0-59 (got '60')"),
    ("q-minutes-60", cron("0 60 12 * * ?"), "cron.minutes: 60 is outside 0-59 (got '60')"),
    ("q-hours-24", cron("0 0 24 * * ?"), "cron.hours: 24 is outside 0-23 (got '24')"),
    ("q-dom-0", cron("0 0 12 0 * ?"), "cron.day_of_month: 0 is outside 1-31 (got '0')"),
    ("q-dom-32", cron("0 0 12 32 * ?"), "cron.day_of_month: 32 is outside 1-31 (got '32')"),
    ("q-month-13", cron("0 0 12 ? 13 MON"), "cron.month: 13 is outside 1-12 (got '13')"),
    ("q-dow-8", cron("0 0 12 ? * 8"), "cron.day_of_week: 8 is outside 1-7 (got '8')"),
    ("q-huge-number", cron(f"0 {BIG} 12 * * ?"), f"cron.minutes: {BIG} is outside 0-59 (got '{BIG}')"),
    ("q-month-name", cron("0 0 12 ? JANUARY MON"),
     "cron.month: 'JANUARY' is not a number or name (got 'JANUARY')"),
    ("q-day-name", cron("0 0 12 ? * FUN"), "cron.day_of_week: 'FUN' is not a number or name (got 'FUN')"),
    ("q-step-0", cron("0 0/0 12 * * ?"),
     "cron.minutes: step after '/' must be a number from 1 to 60 (got '0/0')"),
    ("q-empty-item", cron("0 0 12 1,,2 * ?"), "cron.day_of_month: has an empty item in its list (got '1,,2')"),
    ("q-too-long", cron("0 0 12 * * ? " + ",".join(["2030"] * 300)), "cron: must be at most 1000 characters"),
    ("q-not-text", cron(15), "cron: must be a string (got 15)"),
    # ? L W # misuse
    ("q-both-?", cron("0 0 12 ? * ?"), "cron.day_of_month: day-of-month and day-of-week cannot both be "
                                       "'?'; write '*' in one of them (got '0 0 12 ? * ?')"),
    ("q-neither-?", cron("0 0 12 * * MON"),
     "cron.day_of_week: one of day-of-month and day-of-week must be '?' (Quartz cannot match both), "
     "e.g. '0 0 12 * * ?' or '0 0 12 ? * MON' (got '0 0 12 * * MON')"),
    ("q-?-in-minutes", cron("0 ? 12 * * ?"),
     "cron.minutes: '?' is only allowed in day-of-month or day-of-week (got '?')"),
    ("q-?-in-list", cron("0 0 12 ?,1 * MON"), "cron.day_of_month: '?' must be the whole field (got '?,1')"),
    ("q-L-in-hours", cron("0 0 L * * ?"),
     "cron.hours: 'L' is only allowed in day-of-month or day-of-week (got 'L')"),
    ("q-L-in-list", cron("0 0 12 L,15 * ?"),
     "cron.day_of_month: 'L' and 'W' cannot be combined with lists or steps (got 'L,15')"),
    ("q-L-minus-31", cron("0 0 12 L-31 * ?"), "cron.day_of_month: 'L-n' needs n from 0 to 30 (got 'L-31')"),
    ("q-dayL-in-list", cron("0 0 12 ? * 6L,1"), "cron.day_of_week: 'L' must be written alone as dayL, "
                                                "e.g. 6L for the last Friday (got '6L,1')"),
    ("q-W-32", cron("0 0 12 32W * ?"), "cron.day_of_month: 32 is outside 1-31 (got '32W')"),
    ("q-W-in-dow", cron("0 0 12 ? * MONW"), "cron.day_of_week: 'W' is only allowed in day-of-month "
                                            "(got 'MONW')"),
    ("q-#-in-dom", cron("0 0 12 1#2 * ?"), "cron.day_of_month: '#' is only allowed in day-of-week (got '1#2')"),
    ("q-#-6", cron("0 0 12 ? * 6#6"), "cron.day_of_week: '#n' needs n from 1 to 5 (got '6#6')"),
    ("q-#-in-list", cron("0 0 12 ? * 6#2,MON"), "cron.day_of_week: '#' must stand alone as day#n, e.g. "
                                                "6#3 for the third Friday (got '6#2,MON')"),
    # more than once a minute, never fires, years
    ("q-every-second", cron("* 0 12 * * ?"), f"cron.seconds: {TWICE} (got '*')"),
    ("q-every-30s", cron("0/30 * * * * ?"), f"cron.seconds: {TWICE} (got '0/30')"),
    ("q-never-feb-30", cron("0 0 0 30 2 ?"), f"{NEVER} (got '0 0 0 30 2 ?')"),
    ("q-never-31st", cron("0 0 0 31 4,6,9,11 ?"), f"{NEVER} (got '0 0 0 31 4,6,9,11 ?')"),
    ("q-never-leap", cron("0 0 0 29 2 ? 2027"), f"{NEVER} (got '0 0 0 29 2 ? 2027')"),
    ("q-year-2100", cron("0 0 12 * * ? 2100"), "cron.year: 2100 is outside 1970-2099 (got '2100')"),
    ("q-year-1969", cron("0 0 12 * * ? 1969"), "cron.year: 1969 is outside 1970-2099 (got '1969')"),
    ("q-year-backwards", cron("0 0 12 * * ? 2030-2025"),
     "cron.year: range 2030-2025 runs backwards (got '2030-2025')"),
    ("q-year-step-0", cron("0 0 12 * * ? 2025/0"),
     "cron.year: step after '/' must be a number from 1 to 130 (got '2025/0')"),
    # Unix
    ("u-minutes-60", cron("60 * * * *"), "cron.minutes: 60 is outside 0-59 (got '60')"),
    ("u-hours-25", cron("0 25 * * *"), "cron.hours: 25 is outside 0-23 (got '25')"),
    ("u-dow-8", cron("0 12 * * 8"), "cron.day_of_week: 8 is outside 0-7 (got '8')"),
    ("u-#", cron("0 12 * * MON#2"), f"cron.day_of_week: '#' {QUARTZ_ONLY} (got 'MON#2')"),
    ("u-?", cron("0 12 ? * *"), f"cron.day_of_month: '?' {QUARTZ_ONLY} (got '?')"),
    ("u-L", cron("0 12 L * *"), f"cron.day_of_month: 'L' {QUARTZ_ONLY} (got 'L')"),
    ("u-dom-and-dow", cron("0 12 1 * MON"),
     "cron.day_of_week: the 5-field form cannot restrict both day-of-month and day-of-week (Unix "
     "cron would match either); use the Quartz form with '?' in one of them (got '0 12 1 * MON')"),
    # basic schedules
    ("b-time-25", basic({"days": ["MON"], "time": "25:00"}),
     "schedule.time: must be HH:MM in 24-hour time, e.g. 09:30 (got '25:00')"),
    ("b-time-9am", basic({"days": ["MON"], "time": "9am"}),
     "schedule.time: must be HH:MM in 24-hour time, e.g. 09:30 (got '9am')"),
    ("b-day-name", basic({"days": ["FUNDAY"], "time": "09:00"}),
     "schedule.days: must be among MON, TUE, WED, THU, FRI, SAT, SUN (got 'FUNDAY')"),
    ("b-no-days", basic({"days": [], "time": "09:00"}), "schedule.days: pick at least one day (MON..SUN) "
                                                        "(got [])"),
    ("b-every-0", basic({"every": 0, "unit": "minutes"}), f"{EVERY_MIN} (got 0)"),
    ("b-every-60-min", basic({"every": 60, "unit": "minutes"}), f"{EVERY_MIN} (got 60)"),
    ("b-every-24-h", basic({"every": 24, "unit": "hours"}), f"{EVERY_H} (got 24)"),
    ("b-every-text", basic({"every": "5", "unit": "hours"}), f"{EVERY_H} (got '5')"),
    ("b-unit-days", basic({"every": 5, "unit": "days"}), "schedule.unit: must be 'minutes' or 'hours' "
                                                         "(got 'days')"),
    ("b-both", basic({"every": 5, "unit": "minutes", "days": ["MON"]}),
     "schedule: use either days and time, or every and unit, not both"),
    ("b-empty", basic({}), "schedule: needs either days and time, or every and unit"),
    ("b-unknown-key", basic({"every": 5, "unit": "minutes", "at": "09:00"}),
     "schedule: unknown key 'at'; expected days, time, every, unit (got 'at')"),
    ("b-not-a-table", basic("daily"), "schedule: must be a table of days/time or every/unit (got 'daily')"),
    # trigger dicts
    ("t-unknown-type", trigger({"type": "hourly"}),
     "feed.trigger.type: must be one of manual, schedule, webhook, once (got 'hourly')"),
    ("t-no-type", trigger({"cron": GOOD_CRON}),
     "feed.trigger.type: must be one of manual, schedule, webhook, once (got None)"),
    ("t-schedule-empty", trigger({"type": "schedule"}), "feed.trigger: a schedule needs either 'cron' or "
                                                        "'basic'"),
    ("t-once-no-at", trigger({"type": "once"}), "feed.trigger.at: is required for a one-time trigger "
                                                "(an ISO date-time like 2026-12-01T09:30)"),
    ("t-once-words", trigger({"type": "once", "at": "next tuesday"}),
     "feed.trigger.at: must be an ISO date-time like 2026-12-01T09:30 (got 'next tuesday')"),
    ("t-once-feb-30", trigger({"type": "once", "at": "2026-02-30T09:00"}),
     "feed.trigger.at: must be an ISO date-time like 2026-12-01T09:30 (got '2026-02-30T09:00')"),
    ("t-hmac-text", trigger({"type": "webhook", "hmac": "true"}),
     "feed.trigger.hmac: must be true or false (got 'true')"),
    ("t-hmac-1", trigger({"type": "webhook", "hmac": 1}), "feed.trigger.hmac: must be true or false (got 1)"),
    # time zones
    ("tz-unknown", trigger({"type": "schedule", "cron": GOOD_CRON, "timezone": "Mars/Olympus"}),
     f"{NOT_ZONE} (got 'Mars/Olympus')"),
    ("tz-path", trigger({"type": "schedule", "cron": GOOD_CRON, "timezone": "../../etc/passwd"}),
     f"{NOT_ZONE} (got '../../etc/passwd')"),
    ("tz-number", trigger({"type": "schedule", "cron": GOOD_CRON, "timezone": 5}), f"{NOT_ZONE} (got 5)"),
    ("tz-empty", trigger({"type": "schedule", "cron": GOOD_CRON, "timezone": " "}),
     "schedule.timezone: is required (got ' ')"),
    ("tz-workspace-typo", zone("Europe/Londn"), f"{NOT_ZONE} (got 'Europe/Londn')"),
    ("tz-workspace-abbrev", zone("CEST"), f"{NOT_ZONE} (got 'CEST')"),
    # watchers
    ("w-events-text", watcher({**EMAIL, "events": "failure"}),
     f"{W0}.events: must list one or more of success, failure, runtime_exceeded (got 'failure')"),
    ("w-events-typo", watcher({**EMAIL, "events": ["succes"]}),
     f"{W0}.events: must be among success, failure, runtime_exceeded (got 'succes')"),
    ("w-runtime-missing", watcher({**EMAIL, "events": ["runtime_exceeded"]}),
     f"{W0}.runtime_minutes: must be a whole number >= 1 (got None)"),
    ("w-runtime-0", watcher({**EMAIL, "events": ["runtime_exceeded"], "runtime_minutes": 0}),
     f"{W0}.runtime_minutes: must be a whole number >= 1 (got 0)"),
    ("w-runtime-text", watcher({**EMAIL, "events": ["runtime_exceeded"], "runtime_minutes": "30"}),
     f"{W0}.runtime_minutes: must be a whole number >= 1 (got '30')"),
    ("w-runtime-float", watcher({**EMAIL, "events": ["runtime_exceeded"], "runtime_minutes": 1.5}),
     f"{W0}.runtime_minutes: must be a whole number >= 1 (got 1.5)"),
    ("w-runtime-week", watcher({**EMAIL, "events": ["runtime_exceeded"], "runtime_minutes": 10081}),
     f"{W0}.runtime_minutes: must be at most 10080 (a week) (got 10081)"),
    ("w-channel", watcher({**EMAIL, "channel": "slack"}),
     f"{W0}.channel: must be one of email, webhook (got 'slack')"),
    ("w-email-no-domain", watcher({**EMAIL, "to": ["ops@"]}), f"{NOT_EMAIL} (got 'ops@')"),
    ("w-email-no-tld", watcher({**EMAIL, "to": ["ops@example"]}), f"{NOT_EMAIL} (got 'ops@example')"),
    ("w-email-two-in-one", watcher({**EMAIL, "to": ["a@b.co, c@d.co"]}), f"{NOT_EMAIL} (got 'a@b.co, c@d.co')"),
    ("w-email-display-name", watcher({**EMAIL, "to": ["Ops <ops@x.co>"]}), f"{NOT_EMAIL} (got 'Ops <ops@x.co>')"),
    ("w-email-none", watcher({**EMAIL, "to": []}), f"{W0}.to: must list at least one email address (got [])"),
    ("w-url-ftp", watcher({**HOOK, "url": "ftp://h.example"}),
     f"{W0}.url: must be an http:// or https:// URL (got 'ftp://h.example')"),
    ("w-url-no-scheme", watcher({**HOOK, "url": "h.example/x"}),
     f"{W0}.url: must be an http:// or https:// URL (got 'h.example/x')"),
    ("w-url-ipv6", watcher({**HOOK, "url": "http://[::1"}),
     f"{W0}.url: is not a valid URL: Invalid IPv6 URL (got 'http://[::1')"),
    ("w-url-port", watcher({**HOOK, "url": "http://h.example:70000/x"}),
     f"{W0}.url: is not a valid URL: Port out of range 0-65535 (got 'http://h.example:70000/x')"),
    ("w-url-space", watcher({**HOOK, "url": "https://h.example/a b"}),
     f"{W0}.url: must not contain spaces or control characters (percent-encode them, e.g. %20) "
     "(got 'https://h.example/a b')"),
    ("w-no-name", watcher({**HOOK, "name": " "}), f"{W0}.name: is required for a webhook watcher (got ' ')"),
    ("w-payload-placeholder", watcher({**HOOK, "payload": '{"text": "{feeds} failed"}'}),
     f"{W0}.payload: unknown placeholder {{feeds}}; use one of {PLACEHOLDERS} (got 'feeds')"),
    ("w-payload-unclosed", watcher({**HOOK, "payload": '{"n": {records}'}), f"{TEMPLATE} 8 (char 7)"),
    ("w-payload-bare-words", watcher({**HOOK, "payload": '{"t": {feed} {status}}'}), f"{TEMPLATE} 16 (char 15)"),
    ("w-payload-table", watcher({**HOOK, "payload": {"text": "{feed}"}}),
     f"{W0}.payload: must be a JSON template string (got {{'text': '{{feed}}'}})"),
    # SMTP settings
    ("s-host-empty", smtp(host=""), "smtp.host: must be a host name or IP address (got '')"),
    ("s-host-space", smtp(host="mail server"), "smtp.host: must be a host name or IP address (got 'mail server')"),
    ("s-port-0", smtp(port=0), "smtp.port: must be a port number from 1 to 65535 (got 0)"),
    ("s-port-70000", smtp(port=70000), "smtp.port: must be a port number from 1 to 65535 (got 70000)"),
    ("s-port-text", smtp(port="587"), "smtp.port: must be a port number from 1 to 65535 (got '587')"),
    ("s-security", smtp(security="ssl"), "smtp.security: must be one of none, starttls, tls (got 'ssl')"),
    ("s-from", smtp(from_addr="ops"), "smtp.from: must be an email address like name@example.com (got 'ops')"),
    ("s-user-no-password", smtp(username="u"), "smtp.password: is required when the other login field is set"),
    ("s-timeout-nan", smtp(timeout=float("nan")), "smtp.timeout: must be a number >= 1 (got nan)"),
    ("s-timeout-0", smtp(timeout=0), "smtp.timeout: must be a number >= 1 (got 0)"),
]


@pytest.fixture
def base(ws: Workspace) -> Workspace:
    """A scheduled feed with a watcher, SMTP set up and a workspace time zone: things to keep."""
    ws.connections.add(Connection(name="api"))
    ws.feeds.save(Feed(name="existing", connection="api", script="x = 1\n", watchers=WATCHERS,
                       trigger={"type": "schedule", "cron": GOOD_CRON, "timezone": "Europe/London"}))
    update_smtp(ws, host="smtp.example.com", port=587, from_addr="peak@example.com")
    set_workspace_timezone(ws, "Europe/Paris")
    return ws


@pytest.mark.parametrize(("act", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_refused_with_exact_message_and_nothing_changes(base: Workspace, act: Act, message: str) -> None:
    before = dump(base)
    with pytest.raises(PeakError) as info:
        act(base)
    assert type(info.value) is ValidationError
    assert info.value.message == message
    assert dump(base) == before


CLI_CASES = [
    (("schedule", "check", "0 0 12 ? * ?"), "cron.day_of_month: day-of-month and day-of-week cannot "
                                            "both be '?'; write '*' in one of them (got '0 0 12 ? * ?')"),
    (("schedule", "check", "*/5 * * * *", "--tz", "Europe/Londn"), f"{NOT_ZONE} (got 'Europe/Londn')"),
    (("schedule", "timezone", "Mars/Olympus"), f"{NOT_ZONE} (got 'Mars/Olympus')"),
    (("smtp", "set", "--timeout", "nan"), "smtp.timeout: must be a number >= 1 (got nan)"),
]


def test_cli_prints_the_same_messages_and_changes_nothing(base: Workspace, cli: Any) -> None:
    before = dump(base)
    results = [cli(*args) for args, _ in CLI_CASES]
    for result, (_, message) in zip(results, CLI_CASES, strict=True):
        assert (result.code, result.out, result.err) == (2, "", f"error: Invalid input: {message}\n"), result
    assert dump(base) == before
