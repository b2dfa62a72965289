"""A run or test in progress in this app: its live numbers, and its log fanned out to open LogPanes."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peak_tui.widgets.log_pane import LogPane

KEEP_LINES = 10_000


@dataclass
class LiveJob:
    """What the feed list and the run detail show while a job runs; fed from the worker thread."""

    feed: str
    kind: str  # "run" or "test"
    started: float = field(default_factory=time.monotonic)
    run_id: int | None = None
    records: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    shown: bool = False
    """A test: its live screen was opened (if the user left it, the result only notifies)."""
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=KEEP_LINES))
    _panes: list[LogPane] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def elapsed(self) -> float:
        """Seconds since the job started."""
        return time.monotonic() - self.started

    @property
    def status(self) -> str:
        """`running` or `testing`, as the feed list shows it."""
        return "running" if self.kind == "run" else "testing"

    def log(self, line: str) -> None:
        """One log line from the worker thread: kept (bounded) and queued to every attached pane."""
        with self._lock:
            self.lines.append(line)
            panes = tuple(self._panes)
        for pane in panes:
            pane.push(line)

    def attach(self, pane: LogPane) -> None:
        """Show this job's log so far in `pane`, then keep it fed."""
        with self._lock:
            pane.push_many(self.lines)
            self._panes.append(pane)

    def detach(self, pane: LogPane) -> None:
        """Stop feeding `pane` (its screen closed)."""
        with self._lock:
            if pane in self._panes:
                self._panes.remove(pane)
