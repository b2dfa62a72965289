"""Stage 5's rules on plain values (trigger and watcher dicts), worded as the engine words them."""
from __future__ import annotations

import json
import re
from typing import Any

from peak_tui import schedule
from peak_tui.errors import PeakError
from peak_tui.models import validate_trigger, validate_watcher
from peak_tui.widgets.cron_field import cron_problem

_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")


def _check(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except PeakError as e:
        return str(e)
    return None


def once_problem(at: str) -> str | None:
    """A once date-time is required (an empty one would never run) and must be ISO."""
    if not at:
        return "feed.trigger.at: is required (an ISO date-time like 2026-12-01T09:30)"
    return _check(validate_trigger, {"type": "once", "at": at})


def payload_problem(index: int, payload: str) -> str | None:
    """A payload template must be JSON once its {placeholders} are filled in."""
    if not payload.strip():
        return None
    try:
        json.loads(_PLACEHOLDER.sub("0", payload))
    except json.JSONDecodeError as e:
        return (f"feed.watchers[{index}].payload: must be a JSON template (placeholders like "
                f"{{feed}} allowed): {e.msg} at column {e.colno}")
    return None


def trigger_problem(trigger: dict[str, Any]) -> str | None:
    """The first broken rule of a trigger: its schedule or date-time, its zone, then the engine's."""
    kind = trigger.get("type")
    problem = None
    if kind == "schedule":
        if "cron" in trigger:
            problem = cron_problem(str(trigger.get("cron") or ""))
        elif isinstance(trigger.get("basic"), dict):
            problem = _check(schedule.BasicSchedule.from_dict, trigger["basic"])
    elif kind == "once":
        problem = once_problem(str(trigger.get("at") or ""))
    if problem is None and trigger.get("timezone"):
        problem = _check(schedule.validate_timezone, trigger["timezone"])
    return problem or _check(validate_trigger, trigger)


def watcher_problem(index: int, watcher: dict[str, Any]) -> str | None:
    """The engine's watcher rules, plus a JSON check of a webhook's payload template."""
    return _check(validate_watcher, watcher, index) or \
        payload_problem(index, str(watcher.get("payload") or ""))


def stage_problem(values: dict[str, Any]) -> str | None:
    """Stage 5 as a whole: the trigger, then each watcher."""
    problem = trigger_problem(values.get("trigger") or {"type": "manual"})
    if problem:
        return problem
    for i, w in enumerate(values.get("watchers") or []):
        problem = watcher_problem(i, w)
        if problem:
            return problem
    return None
