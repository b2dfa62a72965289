"""When a feed is due: pure due-time logic over its trigger and scheduler state, clock passed in.

No I/O here: the daemon (``peak_tui.dispatcher``) reads the state from the workspace, asks
``decide(trigger, state, now, tz)`` and acts. A feed's *slots* are the instants its trigger names
(cron fire times, or the one ``once`` date-time). Slots up to ``state.last_slot`` are handled;
slots at or before ``state.anchor`` (when the trigger was set) never count. Every unhandled slot
up to ``now`` is folded into ONE firing: a daemon that was down for a day runs a missed hourly
feed once, as a catch-up, not 24 times.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peak_tui import schedule

# A slot handled later than this after its time is a catch-up (the daemon was down or stalled).
LATE_AFTER = timedelta(seconds=60)
# A once-at time this much before the moment it was set still runs (a form filled in at 09:30:20
# for 09:30 means "now", not "never").
ONCE_GRACE = timedelta(minutes=5)
# How many missed slots are counted for the log line (more are reported as "1000+").
MISSED_COUNT_CAP = 1000
_BATCH = 256

__all__ = [
    "Decision", "SlotState", "decide", "feed_timezone", "next_slot", "once_at", "trigger_cron",
    "trigger_key",
]


@dataclass(frozen=True)
class SlotState:
    """The scheduler's memory of one feed: which trigger, set when, and the last slot handled."""

    trigger_key: str
    anchor: datetime
    last_slot: datetime | None = None


@dataclass(frozen=True)
class Decision:
    """What the scheduler should do about a feed at ``now``."""

    due: bool
    slot: datetime | None = None  # the latest unhandled slot <= now (mark it handled after firing)
    first_missed: datetime | None = None
    missed: int = 0  # unhandled slots folded into this firing (capped at MISSED_COUNT_CAP)
    catch_up: bool = False
    next_at: datetime | None = None  # the first slot after the unhandled ones (for next_run_at)
    run_trigger: str = "schedule"  # what run_feed records: "schedule" or "once"


def feed_timezone(trigger: dict[str, Any], workspace_tz: str | None) -> str:
    """The zone a trigger's times are read in: its own ``timezone``, else the workspace's, else UTC."""
    return schedule.validate_timezone(trigger.get("timezone") or workspace_tz or "UTC")


def trigger_cron(trigger: dict[str, Any]) -> str | None:
    """The Quartz string of a schedule trigger (cron or basic); None for other trigger types."""
    if trigger.get("type") != "schedule":
        return None
    if trigger.get("cron"):
        return str(trigger["cron"])
    return schedule.BasicSchedule.from_dict(trigger.get("basic")).to_cron()


def trigger_key(trigger: dict[str, Any], tz: str) -> str:
    """A fingerprint of what decides the slots; a new key means the trigger was changed."""
    wanted = {k: trigger.get(k) for k in ("type", "cron", "basic", "at")}
    text = json.dumps([wanted, tz], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def once_at(trigger: dict[str, Any], tz: str) -> datetime | None:
    """The instant (UTC) of a once trigger; a naive date-time is wall time in ``tz``."""
    if trigger.get("type") != "once" or not trigger.get("at"):
        return None
    at = datetime.fromisoformat(str(trigger["at"]))
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(tz))
    return at.astimezone(UTC)


def _aware(name: str, value: datetime) -> datetime:
    if value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def next_slot(trigger: dict[str, Any], after: datetime, tz: str) -> datetime | None:
    """The first slot strictly after ``after`` (UTC), or None (manual, webhook, once passed)."""
    after = _aware("after", after)
    cron = trigger_cron(trigger)
    if cron is not None:
        found = schedule.next_times(cron, after, 1, tz)
        return found[0].astimezone(UTC) if found else None
    at = once_at(trigger, tz)
    return at if at is not None and at > after else None


def _latest_cron_slot(cron: str, after: datetime, now: datetime, tz: str) -> datetime | None:
    """The latest cron slot in (after, now]: look back from ``now`` in widening windows."""
    window = timedelta(minutes=2)
    while True:
        start = max(after, now - window)
        best, cursor = None, start
        while True:
            batch = [t.astimezone(UTC) for t in schedule.next_times(cron, cursor, _BATCH, tz)]
            kept = [t for t in batch if t <= now]
            if kept:
                best = kept[-1]
            if len(kept) < _BATCH:
                break
            cursor = kept[-1]
        if best is not None or start == after:
            return best
        window *= 16


def _count_missed(cron: str, after: datetime, now: datetime, tz: str) -> int:
    times = schedule.next_times(cron, after, MISSED_COUNT_CAP, tz)
    return sum(1 for t in times if t.astimezone(UTC) <= now)


def decide(trigger: dict[str, Any], state: SlotState | None, now: datetime, tz: str) -> Decision:
    """Is the feed due at ``now``? Without state, nothing before ``now`` counts."""
    now = _aware("now", now)
    anchor = state.anchor.astimezone(UTC) if state else now
    handled = max(anchor, state.last_slot.astimezone(UTC)) if state and state.last_slot else anchor
    cron = trigger_cron(trigger)
    if cron is not None:
        first = next_slot(trigger, handled, tz)
        if first is None or first > now:
            return Decision(due=False, next_at=first)
        latest = _latest_cron_slot(cron, handled, now, tz) or first
        return Decision(
            due=True, slot=latest, first_missed=first, missed=_count_missed(cron, handled, now, tz),
            catch_up=now - first > LATE_AFTER, next_at=next_slot(trigger, latest, tz),
        )
    at = once_at(trigger, tz)
    if at is None:
        return Decision(due=False)
    if state and state.last_slot is not None and state.last_slot.astimezone(UTC) >= at:
        return Decision(due=False, run_trigger="once")  # it ran (or was skipped): never again
    if at < anchor - ONCE_GRACE:
        return Decision(due=False, run_trigger="once")  # already past when it was set
    if at > now:
        return Decision(due=False, next_at=at, run_trigger="once")
    return Decision(due=True, slot=at, first_missed=at, missed=1, catch_up=now - at > LATE_AFTER,
                    run_trigger="once")
