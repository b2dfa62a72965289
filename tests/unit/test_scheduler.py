"""The scheduler's due-time logic with an injected clock: cron examples, DST, leap years, catch-up,
once-at triggers, paused feeds, and next_run_at kept current on save."""
from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from peak_tui import schedule_state as st
from peak_tui.dispatcher import Dispatcher
from peak_tui.models import Connection, Feed
from peak_tui.scheduler import SlotState, decide, next_slot, once_at, trigger_key
from peak_tui.workspace import Workspace

SCRIPT = """import json
import time
from lib import outputStream, trigger
time.sleep(SLEEP)
outputStream.write({"id": 1, "source": trigger.source})
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def cron(expr: str, tz: str | None = None) -> dict:
    return {"type": "schedule", "cron": expr, **({"timezone": tz} if tz else {})}


def state(anchor: datetime, last: datetime | None = None, trig: dict | None = None) -> SlotState:
    return SlotState(trigger_key(trig or {}, "UTC"), anchor, last)


# --------------------------------------------------------------------------------- pure logic
@pytest.mark.parametrize(("expr", "slot"), [
    ("0 0 12 * * ?", utc(2024, 1, 1, 12)),
    ("0 15 10 ? * MON-FRI", utc(2024, 1, 1, 10, 15)),
    ("0 15 10 L * ?", utc(2024, 1, 31, 10, 15)),
    ("0 15 10 ? * 6L", utc(2024, 1, 26, 10, 15)),
    ("0 15 10 ? * 6#3", utc(2024, 1, 19, 10, 15)),
    ("0 0/5 14,18 * * ?", utc(2024, 1, 1, 14, 0)),
    ("0 11 11 11 11 ?", utc(2024, 11, 11, 11, 11)),
    ("15 10 * * 1-5", utc(2024, 1, 1, 10, 15)),  # 5-field Unix
])
def test_documented_examples_fire_at_their_slot_and_not_before(expr: str, slot: datetime) -> None:
    s = state(utc(2024, 1, 1))
    before = decide(cron(expr), s, slot - timedelta(seconds=1), "UTC")
    assert not before.due and before.next_at == slot
    at = decide(cron(expr), s, slot + timedelta(seconds=2), "UTC")
    assert at.due and at.slot == slot and at.missed == 1 and not at.catch_up
    done = decide(cron(expr), state(s.anchor, slot), slot + timedelta(seconds=2), "UTC")
    assert not done.due and done.next_at is not None and done.next_at > slot


def test_without_state_nothing_before_now_counts() -> None:
    d = decide(cron("0 0 * * * ?"), None, utc(2024, 5, 5, 10, 30), "UTC")
    assert not d.due and d.next_at == utc(2024, 5, 5, 11)


def test_spring_forward_gap_fires_once_at_the_end_of_the_gap() -> None:
    # Europe/London 2024-03-31: 01:00 GMT jumps to 02:00 BST, so 01:30 does not exist that day
    trig, anchor = cron("0 30 1 * * ?", "Europe/London"), utc(2024, 3, 30, 12)
    d = decide(trig, state(anchor), utc(2024, 3, 31, 0, 59), "Europe/London")
    assert not d.due and d.next_at == utc(2024, 3, 31, 1, 0)
    d = decide(trig, state(anchor), utc(2024, 3, 31, 1, 0, 5), "Europe/London")
    assert d.due and d.slot == utc(2024, 3, 31, 1, 0) and d.next_at == utc(2024, 4, 1, 0, 30)


def test_fall_back_repeated_hour_fires_once() -> None:
    # 2024-10-27 01:30 happens at 00:30 UTC (BST) and again at 01:30 UTC (GMT): fire the first only
    trig, anchor = cron("0 30 1 * * ?", "Europe/London"), utc(2024, 10, 26, 12)
    d = decide(trig, state(anchor), utc(2024, 10, 27, 0, 30, 1), "Europe/London")
    assert d.due and d.slot == utc(2024, 10, 27, 0, 30)
    after = decide(trig, state(anchor, d.slot), utc(2024, 10, 27, 1, 30, 1), "Europe/London")
    assert not after.due and after.next_at == utc(2024, 10, 28, 1, 30)


def test_new_york_weekday_schedule_follows_the_offset_change() -> None:
    trig = {"type": "schedule", "basic": {"days": ["MON", "WED"], "time": "09:30"}}
    tz = "America/New_York"
    # 2024-03-11 is the first Monday after the US change: 09:30 EDT is 13:30 UTC (was 14:30)
    assert next_slot(trig, utc(2024, 3, 6, 15), tz) == utc(2024, 3, 11, 13, 30)
    assert next_slot(trig, utc(2024, 3, 4, 0), tz) == utc(2024, 3, 4, 14, 30)


def test_leap_day_schedule_waits_four_years() -> None:
    trig = cron("0 0 12 29 2 ?")
    s = state(utc(2023, 1, 1), utc(2024, 2, 29, 12))
    d = decide(trig, s, utc(2025, 6, 1), "UTC")
    assert not d.due and d.next_at == utc(2028, 2, 29, 12)
    assert decide(trig, s, utc(2028, 2, 29, 12, 0, 1), "UTC").due


def test_downtime_folds_every_missed_slot_into_one_catch_up() -> None:
    trig = cron("0 0 * * * ?")  # hourly
    s = state(utc(2024, 1, 1, 0, 0, 30))
    now = utc(2024, 1, 2, 5, 10)
    d = decide(trig, s, now, "UTC")
    assert d.due and d.catch_up
    assert d.first_missed == utc(2024, 1, 1, 1) and d.slot == utc(2024, 1, 2, 5) and d.missed == 29
    assert d.next_at == utc(2024, 1, 2, 6)
    again = decide(trig, state(s.anchor, d.slot), now, "UTC")
    assert not again.due and again.next_at == utc(2024, 1, 2, 6)


def test_a_month_of_missed_minutes_is_found_quickly() -> None:
    trig = cron("0 * * * * ?")
    t0 = time.perf_counter()
    d = decide(trig, state(utc(2024, 1, 1)), utc(2024, 2, 1, 0, 0, 30), "UTC")
    assert time.perf_counter() - t0 < 2.0
    assert d.due and d.catch_up and d.slot == utc(2024, 2, 1) and d.missed == 1000  # capped


def test_once_at_runs_once_in_the_workspace_zone() -> None:
    trig = {"type": "once", "at": "2024-07-01T09:30"}
    tz = "Europe/Paris"  # 09:30 CEST = 07:30 UTC
    assert once_at(trig, tz) == utc(2024, 7, 1, 7, 30)
    s = state(utc(2024, 6, 1))
    assert decide(trig, s, utc(2024, 7, 1, 7, 29), tz).next_at == utc(2024, 7, 1, 7, 30)
    on_time = decide(trig, s, utc(2024, 7, 1, 7, 30, 5), tz)
    assert on_time.due and not on_time.catch_up and on_time.run_trigger == "once"
    late = decide(trig, s, utc(2024, 7, 3), tz)
    assert late.due and late.catch_up
    assert not decide(trig, state(s.anchor, on_time.slot), utc(2024, 7, 3), tz).due


def test_once_at_already_past_when_set_never_runs_but_minutes_late_does() -> None:
    trig = {"type": "once", "at": "2024-07-01T09:30"}
    assert not decide(trig, state(utc(2024, 7, 2)), utc(2024, 7, 3), "UTC").due
    assert decide(trig, state(utc(2024, 7, 1, 9, 31)), utc(2024, 7, 1, 9, 31, 5), "UTC").due


def test_manual_and_webhook_triggers_are_never_due() -> None:
    for trig in ({"type": "manual"}, {"type": "webhook", "hmac": False}):
        d = decide(trig, state(utc(2020, 1, 1)), utc(2024, 1, 1), "UTC")
        assert not d.due and d.next_at is None


# ------------------------------------------------------------------------ with a workspace
@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    w = Workspace.open(tmp_path / "ws")
    w.connections.add(Connection(name="local", auth_type="none"))
    return w


def add_feed(ws: Workspace, name: str, trigger: dict, sleep: float = 0.0) -> Feed:
    return ws.feeds.save(Feed(name=name, connection="local", script=SCRIPT.replace("SLEEP", str(sleep)),
                              trigger=trigger), create=True)


def test_saving_a_feed_keeps_next_run_at_current(ws: Workspace) -> None:
    add_feed(ws, "hourly", cron("0 0 * * * ?"))
    first = ws.feeds.state("hourly")["next_run_at"]
    assert first is not None and datetime.fromisoformat(first).minute == 0
    f = ws.feeds.get("hourly")
    f.trigger = {"type": "manual"}
    ws.feeds.save(f)
    assert ws.feeds.state("hourly")["next_run_at"] is None
    assert [s.next_run_at for s in ws.feeds.list()] == [None]


def test_a_trigger_changed_away_and_back_does_not_catch_up_the_time_between(ws: Workspace) -> None:
    hourly = cron("0 0 * * * ?")
    add_feed(ws, "flip", hourly)
    st.ensure_state(ws, "flip", hourly, "UTC", anchor=utc(2024, 1, 1), reset=True)
    st.mark_handled(ws, "flip", utc(2024, 1, 1, 5))
    f = ws.feeds.get("flip")
    f.trigger = {"type": "manual"}
    ws.feeds.save(f)
    assert st.load_state(ws, "flip") is None
    f.trigger = hourly
    ws.feeds.save(f)
    row = st.load_state(ws, "flip")
    assert row["last_slot"] is None
    assert datetime.fromisoformat(row["anchor"]) > datetime.now(UTC) - timedelta(minutes=1)
    assert not decide(hourly, st.slot_state(row), datetime.now(UTC), "UTC").due


def test_workspace_time_zone_moves_the_next_run(ws: Workspace) -> None:
    add_feed(ws, "daily", {"type": "schedule", "basic": {"days": ["MON", "TUE", "WED", "THU", "FRI",
                                                                  "SAT", "SUN"], "time": "09:00"}})
    st.set_workspace_timezone(ws, "Asia/Tokyo")  # UTC+9, no DST
    when = datetime.fromisoformat(ws.feeds.state("daily")["next_run_at"])
    assert (when.hour, when.minute) == (0, 0)  # 09:00 in Tokyo
    with pytest.raises(Exception, match="timezone"):
        st.set_workspace_timezone(ws, "Mars/Olympus")


def _clock(holder: list[datetime]):  # type: ignore[no-untyped-def]
    return lambda: holder[0]


def _wait(subs: list, timeout: float = 60) -> None:
    for s in subs:
        assert s.done.wait(timeout), f"run of {s.feed} did not finish"


def test_daemon_tick_catches_up_once_and_skips_paused_feeds(ws: Workspace) -> None:
    add_feed(ws, "hourly", cron("0 0 * * * ?"))
    add_feed(ws, "sleepy", cron("0 30 * * * ?"))
    t0 = utc(2024, 1, 1, 0, 0, 30)
    for name in ("hourly", "sleepy"):  # both triggers were set at t0
        st.ensure_state(ws, name, cron("0 0 * * * ?" if name == "hourly" else "0 30 * * * ?"), "UTC",
                        anchor=t0, reset=True)
    ws.feeds.set_paused("sleepy", True)
    now = [utc(2024, 1, 1, 5, 10)]  # five hours of downtime
    d = Dispatcher(ws, workers=2, clock=_clock(now))
    try:
        fired = d.tick()
        assert [(s.feed, s.trigger, s.catch_up) for s in fired] == [("hourly", "schedule", True)]
        _wait(fired)
        assert d.tick() == []  # the same instant again: nothing more
        runs = ws.runs.list()
        assert [(r.feed, r.trigger, r.status, r.catch_up) for r in runs] == [
            ("hourly", "schedule", "succeeded", True)]
        assert st.load_state(ws, "hourly")["last_slot"].startswith("2024-01-01T05:00:00")
        # the paused feed let its slots pass: resuming it does not run them
        assert st.load_state(ws, "sleepy")["last_slot"].startswith("2024-01-01T04:30:00")
        ws.feeds.set_paused("sleepy", False)
        now[0] = utc(2024, 1, 1, 5, 20)
        assert d.tick() == []
        assert ws.feeds.state("sleepy")["next_run_at"].startswith("2024-01-01T05:30:00")
        now[0] = utc(2024, 1, 1, 5, 30, 1)  # on time: not a catch-up
        fired = d.tick()
        assert [(s.feed, s.catch_up) for s in fired] == [("sleepy", False)]
        _wait(fired)
    finally:
        d.shutdown(grace=5)


def test_once_at_fires_once_and_a_busy_feed_records_a_skip(ws: Workspace) -> None:
    add_feed(ws, "oneshot", {"type": "once", "at": "2024-03-01T12:00"}, sleep=1.5)
    st.ensure_state(ws, "oneshot", {"type": "once", "at": "2024-03-01T12:00"}, "UTC",
                    anchor=utc(2024, 2, 1), reset=True)
    now = [utc(2024, 3, 1, 11, 59)]
    d = Dispatcher(ws, workers=2, clock=_clock(now))
    try:
        assert d.tick() == []
        assert ws.feeds.state("oneshot")["next_run_at"].startswith("2024-03-01T12:00:00")
        manual = d.submit("oneshot", "webhook")  # the feed is busy when its time comes
        assert manual.started.wait(30) and manual.run_id is not None
        now[0] = utc(2024, 3, 1, 12, 0, 1)
        fired = d.tick()
        assert len(fired) == 1 and fired[0].skipped and f"run #{manual.run_id}" in fired[0].skipped
        _wait([manual])
        now[0] = utc(2024, 3, 2)
        assert d.tick() == []  # skipped counts as handled: once means once
        statuses = sorted((r.trigger, r.status) for r in ws.runs.list())
        assert statuses == [("once", "skipped"), ("webhook", "succeeded")]
        assert ws.feeds.state("oneshot")["next_run_at"] is None
    finally:
        d.shutdown(grace=5)


# ------------------------------------------------------------------------------------- CLI
def test_cli_schedule_check_reads_the_expression_and_lists_next_runs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from peak_tui.cli import main

    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    home = ["--home", str(tmp_path / "ws")]
    assert main([*home, "schedule", "check", "0 15 10 ? * 6L", "--tz", "Europe/London", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["description"] == "At 10:15 on the last Friday of every month"
    assert out["timezone"] == "Europe/London" and len(out["next"]) == 5
    for text in out["next"]:
        t = datetime.fromisoformat(text)
        assert t.weekday() == 4 and (t + timedelta(days=7)).month != t.month and t.hour == 10
    assert main([*home, "schedule", "check", "*/5 9-17 * * 1-5"]) == 0
    text = capsys.readouterr().out
    assert "0 */5 9-17 ? * MON-FRI" in text and "Every 5 minutes" in text and "next 5 runs" in text
    assert main([*home, "schedule", "check", "*/10 * * * * ?"]) == 2
    assert "more than once a minute" in capsys.readouterr().err
    assert main([*home, "schedule", "timezone", "Europe/Berlin"]) == 0
    capsys.readouterr()
    assert main([*home, "schedule", "timezone"]) == 0
    assert capsys.readouterr().out.strip() == "Europe/Berlin"


def test_cli_feed_schedule_shows_reading_zone_and_next_runs(
        ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from peak_tui.cli import main

    add_feed(ws, "weekly", {"type": "schedule", "basic": {"days": ["FRI"], "time": "17:45"},
                            "timezone": "America/New_York"})
    assert main(["--home", str(ws.home), "feed", "schedule", "weekly", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cron"] == "0 45 17 ? * FRI" and info["timezone"] == "America/New_York"
    assert info["description"] == "At 17:45 every Friday" and len(info["next"]) == 5
    assert info["daemon_running"] is False
    assert main(["--home", str(ws.home), "feed", "schedule", "weekly"]) == 0
    text = capsys.readouterr().out
    assert "Fri" in text and "no daemon is running" in text
