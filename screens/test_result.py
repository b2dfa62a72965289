"""What a Test of a saved feed found: a preview of its records, the metadata, the error and the log."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from peak_tui.widgets.log_pane import LogPane
from peak_tui.widgets.quiet_footer import QuietFooter
from screens.formatting import count, duration

if TYPE_CHECKING:
    from peak_tui.app import PeakApp
    from peak_tui.execution import TestResult


def cell(value: Any, width: int = 40) -> str:
    """A record value shortened for a table cell."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def outcome_text(feed: str, result: TestResult) -> Text:
    """`test of demo_orders passed: 250 records in 1.1 s (showing 10)`."""
    t = Text()
    t.append(f"test of {feed} ", style="bold")
    if result.ok:
        t.append("passed", style="bold green")
        t.append(f": {count(result.total)} records in {duration(result.duration)}"
                 f" (showing {len(result.records)}); nothing was loaded or committed")
    else:
        t.append("failed", style="bold red")
        t.append(f" after {duration(result.duration)}"
                 + (f" at line {result.error_line} of the script" if result.error_line else ""))
    return t


class TestResultScreen(Screen[None]):
    """The outcome of Test: Preview, Metadata, Error and Log tabs; r runs the feed for real."""

    __test__ = False  # not a pytest test class, despite the name

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="test.back"),
        Binding("r", "run", "Run feed", id="test.run"),
        Binding("t", "test", "Test again", id="test.again"),
        Binding("1", "tab('tab-preview')", "Preview", id="test.tab_preview", show=False),
        Binding("2", "tab('tab-test-metadata')", "Metadata", id="test.tab_metadata", show=False),
        Binding("3", "tab('tab-test-error')", "Error", id="test.tab_error", show=False),
        Binding("4", "tab('tab-test-log')", "Log", id="test.tab_log", show=False),
    ]
    HELP = (
        "Test result: the first records the script wrote (Preview, 1), the metadata before and "
        "after (2), the error and traceback if it failed (3) and the log (4). A test loads and "
        "commits nothing. r runs the feed for real; t tests again; Escape goes back."
    )

    def __init__(self, feed: str, result: TestResult) -> None:
        super().__init__()
        self.feed = feed
        self.result = result

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Outcome line and the four tabs."""
        r = self.result
        self.title = f"Test · {self.feed}"
        yield Header()
        yield Static(outcome_text(self.feed, r), id="test-outcome")
        if r.error:
            yield Static(Text(f"✗ {r.error}", style="bold red"), id="test-error-line")
        with TabbedContent(id="test-tabs", initial="tab-preview" if r.ok else "tab-test-error"):
            with TabPane("Preview", id="tab-preview"):
                yield DataTable(id="test-preview", zebra_stripes=True, header_height=2)
            with TabPane("Metadata", id="tab-test-metadata"), VerticalScroll():
                yield Static(self._metadata(), markup=False)
            with TabPane("Error", id="tab-test-error"), VerticalScroll():
                yield Static((r.error or "no error") + (f"\n\n{r.traceback}" if r.traceback else ""),
                             markup=False)
            with TabPane("Log", id="tab-test-log"):
                yield LogPane(id="test-log")
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        """Fill the preview table and the log."""
        table = self.query_one("#test-preview", DataTable)
        names = [name for name, _ in self.result.columns]
        for name, kind in self.result.columns:
            table.add_column(f"{name}\n{kind}", key=name)
        for rec in self.result.records:
            table.add_row(*(cell(rec.get(n)) for n in names))
        self.query_one(LogPane).set_text(self.result.log)
        table.focus()

    def _metadata(self) -> str:
        r = self.result
        after = json.dumps(r.metadata_after, indent=2, default=str) if r.metadata_after is not None \
            else "(the script did not call metadata.save)"
        return (f"metadata before (what the script read):\n{json.dumps(r.metadata_before, indent=2)}"
                f"\n\nmetadata after (what a run would commit):\n{after}\n")

    def action_tab(self, tab: str) -> None:
        """Show one of the tabs."""
        self.query_one(TabbedContent).active = tab

    def action_run(self) -> None:
        """Run the feed for real."""
        self.peak.start_run(self.feed)
        self.app.pop_screen()

    def action_test(self) -> None:
        """Test again (this screen closes; a new result opens when ready)."""
        self.app.pop_screen()
        self.peak.start_test(self.feed)
