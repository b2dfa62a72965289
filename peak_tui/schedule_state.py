"""The scheduler's state in the workspace: per-feed slots handled, the workspace time zone, next_run_at.

Importing this module registers ``on_feed_saved`` in ``Feeds.on_saved`` so that every save, in any
process that imported it, re-anchors a changed trigger and keeps ``feeds.next_run_at`` current.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from peak_tui import schedule
from peak_tui.errors import PeakError
from peak_tui.feeds import Feeds
from peak_tui.scheduler import SlotState, decide, feed_timezone, once_at, trigger_cron, trigger_key
from peak_tui.store import loads

if TYPE_CHECKING:
    from peak_tui.models import Feed
    from peak_tui.workspace import Workspace

log = logging.getLogger("peak_tui.scheduler")
TIMEZONE_SETTING = "timezone"
_UNKNOWN = object()


def utcnow() -> datetime:
    """The current instant, UTC (the default clock)."""
    return datetime.now(UTC)


def iso(t: datetime | None) -> str | None:
    """A UTC ISO-8601 string, or None."""
    return t.astimezone(UTC).isoformat(timespec="microseconds") if t is not None else None


def parse_iso(text: str | None) -> datetime | None:
    """The inverse of ``iso`` (naive strings are read as UTC)."""
    if not text:
        return None
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def workspace_timezone(ws: Workspace) -> str:
    """The workspace's time zone for schedules and once-at times (setting ``timezone``, UTC default)."""
    return str(ws.store.get_setting(TIMEZONE_SETTING, "UTC") or "UTC")


def set_workspace_timezone(ws: Workspace, name: str) -> str:
    """Validate and store the workspace time zone; returns its canonical name."""
    tz = schedule.validate_timezone(name)
    ws.store.set_setting(TIMEZONE_SETTING, tz)
    now = utcnow()
    refresh_all(ws, now, anchor=now)  # slots are re-read in the new zone from now on
    return tz


def load_state(ws: Workspace, feed: str) -> dict[str, Any] | None:
    """The raw schedule_state row of a feed."""
    return ws.store.query_one("SELECT * FROM schedule_state WHERE feed=?", (feed,))


def slot_state(row: dict[str, Any] | None) -> SlotState | None:
    """A schedule_state row as the scheduler's SlotState."""
    if row is None:
        return None
    anchor = parse_iso(row["anchor"])
    assert anchor is not None
    return SlotState(row["trigger_key"], anchor, parse_iso(row["last_slot"]))


def ensure_state(ws: Workspace, name: str, trigger: dict[str, Any], tz: str, *,
                 anchor: datetime, reset: bool = False) -> SlotState:
    """The feed's state for this trigger, (re)anchored at ``anchor`` if it is new or changed."""
    key = trigger_key(trigger, tz)
    row = load_state(ws, name)  # the common case reads only: no write lock every tick
    if row is not None and row["trigger_key"] == key and not reset:
        return slot_state(row)  # type: ignore[return-value]
    with ws.store.write() as c:
        row = c.execute("SELECT * FROM schedule_state WHERE feed=?", (name,)).fetchone()
        if row is not None and row["trigger_key"] == key and not reset:
            return slot_state(dict(row))  # type: ignore[return-value]
        c.execute(
            "INSERT INTO schedule_state(feed, trigger_key, anchor) VALUES (?,?,?) "
            "ON CONFLICT(feed) DO UPDATE SET trigger_key=excluded.trigger_key, "
            "anchor=excluded.anchor, last_slot=NULL",
            (name, key, iso(anchor)),
        )
    return SlotState(key, anchor.astimezone(UTC), None)


def mark_handled(ws: Workspace, name: str, slot: datetime, *, run_id: int | None = None,
                 now: datetime | None = None) -> None:
    """Record that slots up to ``slot`` are handled (fired, skipped, or passed while paused)."""
    with ws.store.write() as c:
        c.execute(
            "UPDATE schedule_state SET last_slot=MAX(COALESCE(last_slot, ''), ?), "
            "last_fired_at=COALESCE(?, last_fired_at), last_run_id=COALESCE(?, last_run_id) "
            "WHERE feed=?",
            (iso(slot), iso(now) if run_id is not None else None, run_id, name),
        )


def compute_next_run(ws: Workspace, name: str, trigger: dict[str, Any], paused: bool,
                     now: datetime, *, fallback_anchor: datetime | None = None) -> datetime | None:
    """When the feed runs next by its trigger (None: paused, manual, webhook or once done)."""
    if paused or trigger.get("type") not in ("schedule", "once"):
        return None
    tz = feed_timezone(trigger, workspace_timezone(ws))
    state = ensure_state(ws, name, trigger, tz, anchor=fallback_anchor or now)
    d = decide(trigger, state, now, tz)
    return d.first_missed if d.due else d.next_at


def store_next_run(ws: Workspace, name: str, when: datetime | None,
                   current: object = _UNKNOWN) -> None:
    """Write ``feeds.next_run_at`` if it changed (``current``: the stored value, when known)."""
    text = iso(when)
    if current is not _UNKNOWN and current == text:
        return
    with ws.store.write() as c:
        c.execute("UPDATE feeds SET next_run_at=? WHERE name=? AND next_run_at IS NOT ?",
                  (text, name, text))


def refresh_feed(ws: Workspace, name: str, now: datetime | None = None, *,
                 anchor: datetime | None = None) -> datetime | None:
    """Recompute and store one feed's next_run_at (a changed trigger counts from ``anchor``)."""
    row = ws.store.query_one("SELECT config, paused, updated_at FROM feeds WHERE name=?", (name,))
    if row is None:
        return None
    trigger = loads(row["config"], {}).get("trigger") or {"type": "manual"}
    when = compute_next_run(ws, name, trigger, bool(row["paused"]), now or utcnow(),
                            fallback_anchor=anchor or parse_iso(row["updated_at"]))
    store_next_run(ws, name, when)
    return when


def refresh_all(ws: Workspace, now: datetime | None = None, *,
                anchor: datetime | None = None) -> None:
    """Recompute next_run_at for every feed and drop state of deleted feeds."""
    now = now or utcnow()
    prune_states(ws)
    for r in ws.store.query("SELECT name FROM feeds"):
        refresh_feed(ws, r["name"], now, anchor=anchor)


def prune_states(ws: Workspace) -> int:
    """Forget the state of feeds deleted or no longer on a schedule or once trigger.

    Without this, a feed moved from hourly to manual and back a week later would still hold its
    old state and catch up the week it spent on manual.
    """
    stale = [r["feed"] for r in ws.store.query(
        "SELECT s.feed FROM schedule_state s LEFT JOIN feeds f ON f.name = s.feed "
        "WHERE f.name IS NULL OR coalesce(json_extract(f.config, '$.trigger.type'), 'manual') "
        "NOT IN ('schedule', 'once')")]
    if stale:
        with ws.store.write() as c:
            c.executemany("DELETE FROM schedule_state WHERE feed=?", [(name,) for name in stale])
    return len(stale)


def on_feed_saved(ws: Workspace, feed: Feed) -> None:
    """Feeds.on_saved hook: a new feed or a changed trigger counts slots from now on."""
    trigger = feed.trigger or {"type": "manual"}
    try:
        if trigger.get("type") in ("schedule", "once"):
            tz = feed_timezone(trigger, workspace_timezone(ws))
            created = bool(feed.created_at) and feed.created_at == feed.updated_at
            ensure_state(ws, feed.name, trigger, tz, anchor=utcnow(), reset=created)
        else:
            with ws.store.write() as c:
                c.execute("DELETE FROM schedule_state WHERE feed=?", (feed.name,))
        refresh_feed(ws, feed.name)
    except (PeakError, ValueError) as e:  # the save itself succeeded; the daemon retries this
        log.warning("feed %s saved, but its next run could not be computed: %s", feed.name, e)


if on_feed_saved not in Feeds.on_saved:
    Feeds.on_saved.append(on_feed_saved)


def feed_schedule(ws: Workspace, name: str, n: int = 5, now: datetime | None = None) -> dict[str, Any]:
    """What a feed's trigger means, for the CLI and the TUI: reading, zone, next runs, state."""
    feed = ws.feeds.get(name)
    now = now or utcnow()
    trigger = feed.trigger or {"type": "manual"}
    kind = trigger.get("type", "manual")
    out: dict[str, Any] = {"feed": name, "trigger": trigger, "type": kind, "paused": feed.paused,
                           "timezone": None, "cron": None, "description": None, "next": [],
                           "overdue_since": None, "last_slot": None, "last_run_id": None}
    if kind not in ("schedule", "once"):
        out["description"] = ("runs when its webhook URL is called" if kind == "webhook"
                              else "runs only when started by hand (Run, or peak-tui feed run)")
        return out
    tz = feed_timezone(trigger, workspace_timezone(ws))
    row = load_state(ws, name)
    state = slot_state(row) if row and row["trigger_key"] == trigger_key(trigger, tz) else None
    d = decide(trigger, state, now, tz)
    out.update(timezone=tz, last_slot=row and row["last_slot"], last_run_id=row and row["last_run_id"])
    if kind == "once":
        at = once_at(trigger, tz)
        out["description"] = f"once at {at.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M %Z}" if at else "once"
        if d.due:
            out["overdue_since"] = iso(d.first_missed)
        out["next"] = [iso(d.next_at)] if d.next_at and not feed.paused else []
        return out
    cron = trigger_cron(trigger)
    out["cron"] = cron
    out["description"] = schedule.describe(cron) if cron else None
    if d.due:
        out["overdue_since"] = iso(d.first_missed)
    if not feed.paused and cron:
        out["next"] = [iso(t) for t in schedule.next_times(cron, now, n, tz)]
    return out
