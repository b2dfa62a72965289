"""Short, fixed-width renderings of times, durations, counts and statuses for tables and headers."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.cells import cell_len
from rich.text import Text

STATUS_STYLES = {
    "succeeded": ("✓", "green"),
    "failed": ("✗", "red"),
    "cancelled": ("■", "yellow"),
    "skipped": ("»", "yellow"),
    "running": ("▶", "cyan"),
    "queued": ("…", "cyan"),
    "testing": ("▶", "magenta"),
    "never": ("·", "grey50"),
}


def local_time(iso: str | None) -> datetime | None:
    """An ISO timestamp from the store, in the machine's local time zone."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return None


def short_time(iso: str | None) -> str:
    """`01-07 09:33` in local time; the year is left out (runs are recent) to fit 80 columns."""
    t = local_time(iso)
    return t.strftime("%m-%d %H:%M") if t else ""


def full_time(iso: str | None) -> str:
    """`2026-01-07 09:33:05` in local time."""
    t = local_time(iso)
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def duration(seconds: float | None) -> str:
    """`0.8 s`, `42 s`, `3m 04s`, `2h 05m`."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def count(n: int | None) -> str:
    """`1,234`, `12.3k`, `4.5M`: at most 6 characters."""
    if n is None:
        return ""
    if n < 100_000:
        return f"{n:,}"
    if n < 10_000_000:
        return f"{n / 1000:.0f}k" if n >= 1_000_000 else f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


def status_text(status: str | None, extra: str = "") -> Text:
    """A status with its symbol and colour, e.g. `✗ failed`."""
    status = status or "never"
    symbol, style = STATUS_STYLES.get(status, ("?", "white"))
    return Text(f"{symbol} {status}{(' ' + extra) if extra else ''}", style=style)


def trigger_summary(trigger: dict[str, Any]) -> str:
    """A few words for a feed's trigger: `manual`, `webhook`, `cron 0 15 * * *`, `every 15 minutes`."""
    kind = trigger.get("type", "manual")
    if kind == "schedule":
        if trigger.get("cron"):
            return f"cron {trigger['cron']}"
        basic = trigger.get("basic") or {}
        if "every" in basic:
            return f"every {basic['every']} {basic.get('unit', 'minutes')}"
        days = ",".join(basic.get("days", [])) or "daily"
        return f"{days} {basic.get('time', '')}".strip()
    if kind == "once":
        return f"once {trigger.get('at', '')}".strip()
    return str(kind)


def fill_table(table: Any, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]],
               keys: Sequence[str], *, max_width: int = 40) -> None:
    """Replace a DataTable's rows, with column widths measured here and now.

    DataTable measures auto-width columns when it next goes idle; a frame painted before that
    (or a screen left under a modal) shows every column cut to its label. Fixed widths do not wait.
    """
    widths = [cell_len(label) for _, label in columns]
    for cells in rows:
        for i, c in enumerate(cells):
            w = c.cell_len if isinstance(c, Text) else cell_len(str(c))
            if w > widths[i]:
                widths[i] = min(w, max_width)
    table.clear(columns=True)
    for (key, label), width in zip(columns, widths, strict=True):
        table.add_column(label, key=key, width=width)
    for key, cells in zip(keys, rows, strict=True):
        table.add_row(*cells, key=key)
