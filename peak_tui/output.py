"""Plain-text and JSON output for the CLI: aligned tables, JSON documents, and a progress line."""
from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO


def print_json(obj: Any, out: TextIO | None = None) -> None:
    """A JSON document on stdout."""
    (out or sys.stdout).write(json.dumps(obj, indent=2, default=str, ensure_ascii=False) + "\n")


def cell(val: Any, width: int = 60) -> str:
    """A value as one table cell."""
    if val is None:
        text = ""
    elif isinstance(val, (dict, list)):
        text = json.dumps(val, ensure_ascii=False)
    else:
        text = str(val)
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: list[str], rows: list[list[Any]], out: TextIO | None = None) -> None:
    """An aligned text table."""
    out = out or sys.stdout
    cells = [[cell(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    out.write("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip() + "\n")
    for r in cells:
        out.write("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n")
    if not rows:
        out.write("(none)\n")


class ProgressLine:
    """A single updating line on a terminal: records, rate and elapsed time."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0
        self.shown = False

    def update(self, records: int, elapsed: float, force: bool = False) -> None:
        """Redraw at most five times a second."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        rate = records / elapsed if elapsed > 0 else 0
        m, s = divmod(int(elapsed), 60)
        self.stream.write(f"\r\x1b[K  {records:,} records  {rate:,.0f}/s  {m}:{s:02d} elapsed")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Remove the line before other output."""
        if self.enabled and self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def duration(seconds: float | None) -> str:
    """Seconds as a short human string."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"
