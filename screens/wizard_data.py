"""What the feed wizard reads before it shows (in a thread worker) and how it builds the Feed it saves."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peak_tui.destinations import offered
from peak_tui.models import Feed

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

# which wizard stage shows a field named in an engine error (prefix match, longest first)
FIELD_STAGES: tuple[tuple[str, int], ...] = (
    ("connection", 0), ("feed.connection", 0), ("dependencies", 1), ("feed.dependencies", 1),
    ("feed.script", 1), ("feed.name", 2), ("feed.load_type", 2), ("feed.destination", 3),
    ("feed.trigger", 4), ("feed.watchers", 4), ("schedule", 4), ("cron", 4),
)


def stage_of(message: str) -> int | None:
    """The stage that owns the field an engine message starts with (e.g. 'feed.name: ...')."""
    head = message.split(":", 1)[0].strip()
    best = None
    for prefix, stage in FIELD_STAGES:
        if head == prefix or head.startswith(prefix + ".") or head.startswith(prefix + "["):
            if best is None or len(prefix) > best[0]:
                best = (len(prefix), stage)
    return best[1] if best else None


@dataclass
class WizardData:
    """The workspace facts the wizard's stages need, read once at mount."""

    connections: dict[str, str]
    feeds: set[str]
    warehouse: str
    offered: tuple[str, ...]
    timezone: str
    feed: Feed | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def read_wizard_data(ws: Workspace, feed_name: str | None) -> WizardData:
    """Small reads: connection names, feed names, warehouse, zone, and the feed when editing."""
    try:
        from peak_tui.schedule_state import workspace_timezone

        tz = workspace_timezone(ws)
    except ImportError:  # the scheduler is optional for the wizard
        tz = "UTC"
    return WizardData(
        connections={c.name: c.auth_type for c in ws.connections.list()},
        feeds={r["name"] for r in ws.store.query("SELECT name FROM feeds")},
        warehouse=ws.warehouse_kind(),
        offered=offered(ws),
        timezone=tz,
        feed=ws.feeds.get(feed_name) if feed_name else None,
    )


def build_feed(values: dict[str, Any], original: Feed | None) -> Feed:
    """The Feed the stages describe; an edited feed keeps what the wizard does not show (tags ...)."""
    wanted = {k: values[k] for k in ("name", "connection", "script", "dependencies", "load_type",
                                     "destination", "trigger", "watchers") if k in values}
    if original is not None:
        data = original.to_dict()
        data.update({k: val for k, val in wanted.items() if k != "name"})
        return Feed.from_dict(data)
    return Feed(**wanted)
