"""The feed list's filter language and how one feed becomes one table row."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.text import Text

from screens.formatting import count, short_time, status_text, trigger_summary

if TYPE_CHECKING:
    from peak_tui.feeds import FeedSummary
    from peak_tui.widgets.live import LiveJob

COLUMNS = (("feed", "Feed"), ("connection", "Connection"), ("status", "Last run"),
           ("started", "Started"), ("next", "Next run"), ("records", "Records"), ("tags", "Tags"))
STATUS_ALIASES = {"ok": "succeeded", "success": "succeeded", "fail": "failed", "error": "failed"}
FILTER_HELP = "name · tag:demo · status:failed|succeeded|running|never|paused · conn:NAME"


@dataclass
class FeedFilter:
    """What the filter box asks for; every part must match (plain words match the feed name)."""

    words: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> FeedFilter:
        """`tag:demo status:failed orders` -> tags, statuses, name words (case-insensitive)."""
        f = cls()
        for token in text.lower().split():
            key, sep, value = token.partition(":")
            if sep and value and key in ("tag", "tags", "t"):
                f.tags.append(value)
            elif sep and value and key in ("status", "s", "is"):
                f.statuses.append(STATUS_ALIASES.get(value, value))
            elif sep and value and key in ("conn", "connection", "c"):
                f.connections.append(value)
            else:
                f.words.append(token)
        return f

    @property
    def empty(self) -> bool:
        """Whether it lets everything through."""
        return not (self.words or self.tags or self.statuses or self.connections)

    def matches(self, s: FeedSummary, live: LiveJob | None = None) -> bool:
        """Whether a feed passes."""
        name = s.name.lower()
        if any(w not in name for w in self.words):
            return False
        tags = [t.lower() for t in s.tags]
        if any(t not in tags for t in self.tags):
            return False
        if any(c not in s.connection.lower() for c in self.connections):
            return False
        if self.statuses:
            have = {live.status if live else (s.last_status or "never")}
            have.add("paused" if s.paused else "active")
            if not have.intersection(self.statuses):
                return False
        return True


def next_run(s: FeedSummary) -> str:
    """When the feed runs next: a time for schedules, else how it is triggered."""
    if s.paused:
        return "paused"
    if s.next_run_at:
        return short_time(s.next_run_at)
    kind = s.trigger.get("type", "manual")
    return "-" if kind == "schedule" else str(kind)


def status_cell(s: FeedSummary, live: LiveJob | None) -> Text:
    """Last run status, or the live job's progress."""
    if live is not None:  # its records count shows in the Records column
        return status_text(live.status)
    return status_text(s.last_status)


def row_cells(s: FeedSummary, live: LiveJob | None = None) -> tuple[object, ...]:
    """The cells of one feed's row, in `COLUMNS` order."""
    records: object = count(live.records) if live is not None and live.kind == "run" else \
        count(s.last_records)
    name = Text(("⏸ " if s.paused else "") + s.name, style="bold")
    if s.paused:
        name.stylize("yellow", 0, 1)
    return (
        name,
        s.connection,
        status_cell(s, live),
        short_time(s.last_started_at),
        next_run(s),
        Text(str(records), justify="right"),
        ",".join(s.tags),
    )


def detail_text(s: FeedSummary, live: LiveJob | None = None) -> Text:
    """The side panel for the selected feed (wide terminals)."""
    t = Text()
    t.append(f"{s.name}\n", style="bold")
    rows = [
        ("connection", s.connection),
        ("trigger", trigger_summary(s.trigger)),
        ("destination", str(s.destination.get("type", "local"))),
        ("tags", ", ".join(s.tags) or "-"),
        ("state", "paused" if s.paused else "active"),
        ("next run", next_run(s)),
    ]
    for k, v in rows:
        t.append(f"{k:>11} ", style="dim")
        t.append(f"{v}\n")
    t.append("\n")
    t.append(f"{'last run':>11} ", style="dim")
    if s.last_run_id is None and live is None:
        t.append("never run\n")
    else:
        t.append_text(status_cell(s, live))
        t.append(f" #{s.last_run_id}\n" if s.last_run_id else "\n")
        t.append(f"{'started':>11} ", style="dim")
        t.append(f"{short_time(s.last_started_at) or '-'}\n")
        t.append(f"{'records':>11} ", style="dim")
        t.append(f"{count(s.last_records) or '0'}\n")
    return t
