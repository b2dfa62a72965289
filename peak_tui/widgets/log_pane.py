"""A log pane that takes lines from any thread and paints them in batches, with search and copy-all.

Producers call `push()` / `push_many()` from worker threads: that only appends to a bounded queue.
A 50 ms timer on the UI thread drains the queue into a `Log` with one `write_lines` call, so a script
printing hundreds of thousands of lines costs the UI at most ~20 small paints a second, and the pane
never holds more than `max_lines` lines (the full log is stored by the engine, not here).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input

from peak_tui.widgets.log_view import LogHighlighter, LogSearch, LogStatus, LogView

FLUSH_SECONDS = 0.05
YIELD_EVERY = 256
FLUSH_LINES = 2_000  # per flush: bounds one paint's cost; a flood skips lines rather than stall


class LogPane(LogSearch, Vertical):
    """Thread-safe, batched, bounded log view: `/` searches, `n`/`N` step, `f` follows, `c` copies."""

    DEFAULT_CSS = """
    LogPane { height: 1fr; }
    LogPane > LogView { height: 1fr; border: none; }
    LogPane > #log-search { display: none; height: 3; }
    LogPane.-searching > #log-search { display: block; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", id="log.search"),
        Binding("n", "next_match", "Next hit", id="log.next_match", show=False),
        Binding("N", "prev_match", "Previous hit", id="log.prev_match", show=False),
        Binding("f", "toggle_follow", "Follow", id="log.follow", show=False),
        Binding("c", "copy_all", "Copy all", id="log.copy_all"),
    ]

    HELP = (
        "Log: newest lines at the bottom. `/` searches (Enter: next hit, Escape: close), `n`/`N` step "
        "through hits, `f` turns following the end on or off, `c` copies the whole log to your "
        "clipboard (OSC 52 - works over SSH and in tmux with set-clipboard on). The pane keeps the "
        "last lines only; the full log is stored with the run."
    )

    def __init__(self, max_lines: int = 10_000, *, follow: bool = True, name: str | None = None,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.max_lines = max_lines
        self._lock = threading.Lock()
        self._pending: deque[str] = deque(maxlen=max_lines)
        self._received = 0
        self._painted = 0
        self._skipped = 0
        self._ready = False  # widgets exist (on_mount ran); before that, lines only queue
        self._follow = follow
        self._matches: list[int] = []
        self._match_index = -1
        self._highlighter = LogHighlighter()
        self._status_text = ""
        self.copy_source: Callable[[], str] | None = None
        """Where copy-all reads from; defaults to the lines in the pane (set it to the stored log)."""

    def compose(self) -> ComposeResult:
        """A log view, a hidden search box and a one-line status."""
        log = LogView(highlight=True, max_lines=self.max_lines, auto_scroll=self._follow, id="log-view")
        log.highlighter = self._highlighter
        yield log
        yield Input(placeholder="search the log (Enter: next hit, Escape: close)", id="log-search")
        yield LogStatus(id="log-status")

    def on_mount(self) -> None:
        """Start the flush timer; paint whatever was queued before the pane was mounted."""
        self._ready = True
        self.set_interval(FLUSH_SECONDS, self.flush, name="log-pane-flush")
        self.flush(None)
        self._update_status()

    # producers (any thread) -------------------------------------------------------------------
    def push(self, line: str) -> None:
        """Queue one line; safe from any thread, never touches widgets."""
        with self._lock:
            if len(self._pending) == self.max_lines:
                self._skipped += 1
            self._pending.append(line)
            self._received += 1
            yield_now = self._received % YIELD_EVERY == 0
        if yield_now:
            # a producer in a tight loop would hold the GIL for whole switch intervals at a time
            # while the UI thread waits; handing it over now and then keeps the UI's ticks on time
            time.sleep(0)

    def push_many(self, lines: Iterable[str]) -> None:
        """Queue many lines at once; safe from any thread."""
        batch = list(lines)
        with self._lock:
            self._skipped += max(0, len(self._pending) + len(batch) - self.max_lines)
            self._pending.extend(batch)
            self._received += len(batch)
        time.sleep(0)

    # UI thread ---------------------------------------------------------------------------------
    def flush(self, limit: int | None = FLUSH_LINES) -> None:
        """Paint up to `limit` queued lines now (None: all); the timer calls this every 50 ms."""
        with self._lock:
            if not self._pending or not self._ready:
                return
            pending = self._pending
            n = len(pending) if limit is None else min(limit, len(pending))
            batch = [pending.popleft() for _ in range(n)]
            self._painted = self._received - len(pending)
            skipped, self._skipped = self._skipped, 0
        if skipped:
            # a flood outran the screen: say so instead of silently losing lines from the view
            marker = (f"[pane] ... {skipped:,} lines skipped in this view while the log flooded "
                      "(the stored run log keeps them) ...")
            batch = [marker, *batch[-(self.max_lines - 1):]]
        # Log.write_lines drops empty strings (it splits each on newlines); keep blank lines blank
        self.log_view.write_lines([line or " " for line in batch])
        self._update_status()

    def clear(self) -> None:
        """Empty the pane and forget queued lines."""
        with self._lock:
            self._pending.clear()
            self._received = self._painted = self._skipped = 0
        self._matches, self._match_index = [], -1
        if self._ready:
            self.log_view.clear()
            self.log_view.current_match = None
            self._update_status()

    def set_text(self, text: str) -> None:
        """Replace the pane's content with a whole stored log (only its last `max_lines` are split)."""
        self.clear()
        total = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        lines = text.rstrip("\n").rsplit("\n", self.max_lines - 1) if text else []
        if total > len(lines):
            lines[0] = (f"[pane] ... the first {total - len(lines) + 1:,} lines are not shown here; "
                        "c copies the whole stored log ...")
        self.push_many(lines)
        with self._lock:
            self._received, self._skipped = total, 0
        self.flush(None)

    @property
    def lines(self) -> list[str]:
        """The lines the pane holds now (at most `max_lines`)."""
        return list(self.log_view.lines) if self._ready else []

    @property
    def received(self) -> int:
        """How many lines were pushed since the last clear (including ones no longer shown)."""
        return self._received

    @property
    def pending(self) -> int:
        """Lines queued but not yet painted."""
        with self._lock:
            return len(self._pending)

    @property
    def follow(self) -> bool:
        """Whether new lines scroll the pane to the end."""
        return self._follow

    def pause_follow(self) -> None:
        """Stop scrolling to new lines (the user is reading)."""
        self._follow = False
        if self._ready:
            self.log_view.auto_scroll = False
            self._update_status()

    def resume_follow(self) -> None:
        """Scroll to the end and keep following new lines."""
        self._follow = True
        if self._ready:
            self.log_view.auto_scroll = True
            self.log_view.scroll_end(animate=False)
            self._update_status()

    def text(self) -> str:
        """What copy-all copies."""
        if self.copy_source is not None:
            return self.copy_source()
        return "\n".join(self.lines) + "\n"

    # actions ----------------------------------------------------------------------------------
    def action_toggle_follow(self) -> None:
        """Turn following the end on or off."""
        self.resume_follow() if not self._follow else self.pause_follow()

    def action_copy_all(self) -> None:
        """Copy the whole log to the clipboard through the terminal (OSC 52)."""
        text = self.text()
        self.app.copy_to_clipboard(text)
        self.notify(f"copied {text.count(chr(10)):,} log lines to the clipboard", title="Log")

    def _update_status(self) -> None:
        if not self._ready:
            return
        shown = len(self.log_view.lines)
        parts = [f"{self._received:,} lines"]
        if self._received > shown:
            parts.append(f"showing the last {shown:,}")
        parts.append("following" if self._follow else "paused (f follows)")
        if self._highlighter.term is not None:
            hit = f"{self._match_index + 1}/" if self._match_index >= 0 else ""
            parts.append(f"search: {hit}{len(self._matches):,} hits")
        text = " · ".join(parts)
        if text != self._status_text:
            self._status_text = text
            self.query_one(LogStatus).text = text
