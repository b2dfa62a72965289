"""The parts of a LogPane: the `Log` that paints lines, its highlighter, status line and search."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.highlighter import Highlighter
from rich.style import Style
from rich.text import Text
from textual import on
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Input, Log

if TYPE_CHECKING:
    from textual.events import Key

_ENGINE = re.compile(r"^\[peak\].*$")
_TROUBLE = re.compile(r"^(Traceback \(most recent call last\):|\w+(\.\w+)*(Error|Exception)\b.*)$")
_CURRENT_LINE = Style(bgcolor="grey23")


class LogHighlighter(Highlighter):
    """Dims engine lines, reddens errors, and marks every hit of the search term."""

    def __init__(self) -> None:
        self.term: re.Pattern[str] | None = None

    def highlight(self, text: Text) -> None:
        """Style one line in place."""
        text.highlight_regex(_ENGINE, "#7f8fa6")
        text.highlight_regex(_TROUBLE, "bold #ff6b6b")
        if self.term is not None:
            text.highlight_regex(self.term, "bold black on #e5c07b")


class LogView(Log):
    """The `Log` inside a `LogPane`: also highlights the line of the current search match."""

    current_match: int | None = None

    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        # Log measures new lines' widths in a thread worker per write; at 20 writes a second of
        # 10,000 lines that worker fights the UI thread for the GIL (measured: 120 ms stalls).
        # Measuring inline is ~1 ms per 10,000 lines (cell_len only for non-ASCII lines).
        if lines:
            widest = max(len(line) if line.isascii() else cell_len(line) for line in lines)
            self._update_maximum_width(updates, widest + 8)

    def render_line(self, y: int) -> Strip:
        """Render a line, marking the current search match."""
        strip = super().render_line(y)
        if self.current_match is not None and self.scroll_offset.y + y == self.current_match:
            strip = strip.apply_style(_CURRENT_LINE)
        return strip


class LogStatus(Widget):
    """The pane's one-line status; repaints without a layout pass (a Static would reflow the screen)."""

    DEFAULT_CSS = "LogStatus { height: 1; color: $text-muted; background: $boost; padding: 0 1; }"

    text: reactive[str] = reactive("", layout=False)

    def render(self) -> str:
        """The status text."""
        return self.text


class LogSearch(Widget):
    """Search for a LogPane (a mixin over its widgets): highlight hits, step through them."""

    _highlighter: LogHighlighter
    _matches: list[int]
    _match_index: int

    @property
    def log_view(self) -> LogView:
        """The inner `Log` widget."""
        return self.query_one(LogView)

    def pause_follow(self) -> None:
        """Stop scrolling to new lines (provided by LogPane)."""

    def _update_status(self) -> None:
        """Repaint the status line (provided by LogPane)."""

    def action_search(self) -> None:
        """Open the search box."""
        self.add_class("-searching")
        self.query_one("#log-search", Input).focus()

    def action_next_match(self) -> None:
        """Jump to the next search hit."""
        self._step(+1)

    def action_prev_match(self) -> None:
        """Jump to the previous search hit."""
        self._step(-1)

    @on(Input.Changed, "#log-search")
    def _search_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search(event.value)

    @on(Input.Submitted, "#log-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._step(+1)

    def on_key(self, event: Key) -> None:
        """Escape in the search box closes it and returns to the log."""
        if event.key == "escape" and self.has_class("-searching"):
            event.stop()
            event.prevent_default()
            self.remove_class("-searching")
            self.log_view.focus()

    def search(self, term: str) -> int:
        """Highlight every hit of `term` (case-insensitive) and return the number of matching lines."""
        pattern = re.compile(re.escape(term), re.IGNORECASE) if term else None
        self._highlighter.term = pattern
        self._matches = [i for i, line in enumerate(self.log_view.lines)
                         if pattern is not None and pattern.search(line)]
        self._match_index = -1
        self.log_view.current_match = None
        self.log_view.refresh()
        self._update_status()
        return len(self._matches)

    def _step(self, direction: int) -> None:
        term = self._highlighter.term
        view = self.log_view
        # lines arrive and old ones drop off while a run streams: re-scan, then move from where we are
        self._matches = [i for i, line in enumerate(view.lines) if term is not None and term.search(line)]
        if not self._matches:
            self._match_index = -1
            self._update_status()
            self.notify("no hits" if term else "press / to search first", severity="warning", timeout=2)
            return
        self.pause_follow()
        here = view.current_match if view.current_match is not None else view.scroll_offset.y - 1
        if direction > 0:
            after = [k for k, i in enumerate(self._matches) if i > here]
            self._match_index = after[0] if after else 0
        else:
            before = [k for k, i in enumerate(self._matches) if i < here]
            self._match_index = before[-1] if before else len(self._matches) - 1
        line = self._matches[self._match_index]
        view.current_match = line
        view.scroll_to(y=max(0, line - view.size.height // 2), animate=False)
        view.refresh()
        self._update_status()
