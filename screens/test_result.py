"""A Test of a saved feed: its live log while it runs, then the preview, JSON, metadata and error.

The app keeps one such screen and reuses it. A quick test opens it with its result; a test still
running after `LIVE_AFTER` seconds opens it with its log streaming, and the result fills it in
place. Test again (`t` here) keeps the last result in view until the new one arrives.
"""
from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.lazy import Lazy
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static, TabbedContent, TabPane

from peak_tui.widgets.log_pane import LogPane
from peak_tui.widgets.quiet_footer import QuietFooter
from screens.formatting import count, duration

if TYPE_CHECKING:
    from peak_tui.app import PeakApp
    from peak_tui.execution import TestResult
    from peak_tui.widgets.live import LiveJob


LIVE_AFTER = 0.5
"""A Test still running after this many seconds shows its live log."""


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
    """Test of one feed: Preview, JSON, Metadata, Error and Log tabs; r runs the feed for real."""

    __test__ = False  # not a pytest test class, despite the name

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="test.back"),
        Binding("r", "run", "Run feed", id="test.run"),
        Binding("t", "test", "Test again", id="test.again"),
        Binding("x", "cancel", "Cancel test", id="test.cancel"),
        Binding("1", "tab('tab-preview')", "Preview", id="test.tab_preview", show=False),
        Binding("2", "tab('tab-test-json')", "JSON", id="test.tab_json", show=False),
        Binding("3", "tab('tab-test-metadata')", "Metadata", id="test.tab_metadata", show=False),
        Binding("4", "tab('tab-test-error')", "Error", id="test.tab_error", show=False),
        Binding("5", "tab('tab-test-log')", "Log", id="test.tab_log", show=False),
    ]
    HELP = (
        "Test: the script runs with the feed's current metadata; its log streams into Log (5) and x "
        "cancels it. Then: the first records the script wrote as a table (Preview, 1) and as JSON "
        "(2), the metadata before and after (3) and the error and traceback if it failed (4). A "
        "test loads and commits nothing. r runs the feed for real; t tests again; Escape goes back."
    )

    def __init__(self, feed: str = "", result: TestResult | None = None, *,
                 job: LiveJob | None = None) -> None:
        super().__init__()
        self.peak.prime_breakpoints(self)
        self._ready = False
        self.feed = feed
        self.result = result
        self.job = job
        """The test in progress this screen follows (None once its result is shown)."""
        self._json_shown = False
        # every tab but Preview mounts after the first frame (textual.lazy): the preview shows
        # ~0.1 s sooner; these are kept here because they cannot be queried until then
        self._json = Static("", id="test-json", markup=False)
        self._metadata_view = Static("", id="test-metadata", markup=False)
        self._traceback = Static("", id="test-traceback", markup=False)
        self._pane = LogPane(id="test-log")

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Outcome line, error line and the five tabs (filled by `show_result`)."""
        self.title = f"Test · {self.feed}"
        yield Header()
        yield Static("", id="test-outcome")
        yield Static("", id="test-error-line")
        # no `initial`: a TabbedContent with one fails to mount if the app quits meanwhile
        with TabbedContent(id="test-tabs"):
            with TabPane("Preview", id="tab-preview"):
                yield DataTable(id="test-preview", zebra_stripes=True, header_height=2)
            with TabPane("JSON", id="tab-test-json"):
                yield Lazy(VerticalScroll(self._json))
            with TabPane("Metadata", id="tab-test-metadata"):
                yield Lazy(VerticalScroll(self._metadata_view))
            with TabPane("Error", id="tab-test-error"):
                yield Lazy(VerticalScroll(self._traceback))
            with TabPane("Log", id="tab-test-log"):
                yield Lazy(self._pane)
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        """Follow the running test, or show the result handed over."""
        self._ready = True
        if not self.query("#test-preview"):
            return  # the app quit while this screen mounted: its widgets are already gone
        if self.job is not None:
            self.follow(self.job)
        elif self.result is not None:
            self.show_result(self.result)

    def open(self, feed: str, *, job: LiveJob | None = None, result: TestResult | None = None,
             log_now: bool = True) -> None:
        """Point the screen at a test of `feed` (the app keeps one screen and reuses it);
        `log_now=False`: see `follow`."""
        self.feed = feed
        self.title = f"Test · {feed}"
        if not self._ready:  # not composed yet: on_mount shows it
            if self.job is not None and self.job is not job:
                self.job.detach(self._pane)
            self.job, self.result = job, result
        elif job is not None:
            self.follow(job, log_now=log_now)
        elif result is not None:
            self.show_result(result)

    def on_unmount(self) -> None:
        """Stop feeding the log pane from a live test."""
        if self.job is not None:
            self.job.detach(self._pane)

    def follow(self, job: LiveJob, *, log_now: bool = True) -> None:
        """Show a test in progress: its live log, and how to cancel it. Testing again
        (`log_now=False`), the last result stays in view until the new one, and the Log tab
        opens only if the test is still running after `LIVE_AFTER` seconds."""
        pane = self._pane
        if self.job is not None and self.job is not job:
            self.job.detach(pane)
        self.job, self.result, self._json_shown = job, None, False
        self.query_one("#test-outcome", Static).update(
            Text.assemble(("testing ", "bold"), (self.feed, "bold"),
                          " … its log streams in Log (5); x cancels"))
        self.query_one("#test-error-line", Static).display = False
        pane.clear()
        job.attach(pane)
        if log_now:
            self.query_one(TabbedContent).active = "tab-test-log"
        else:
            self.set_timer(LIVE_AFTER, partial(self._show_live_log, job))
        self.refresh_bindings()

    def _show_live_log(self, job: LiveJob) -> None:
        if self.job is job:
            self.query_one(TabbedContent).active = "tab-test-log"

    def show_result(self, result: TestResult) -> None:
        """Fill every tab from a finished test and open Preview (or Error, if it failed)."""
        pane = self._pane
        if self.job is not None:
            self.job.detach(pane)
            self.job = None
        self.result, self._json_shown = result, False
        self.query_one("#test-outcome", Static).update(outcome_text(self.feed, result))
        error = self.query_one("#test-error-line", Static)
        error.display = bool(result.error)
        error.update(Text(f"✗ {result.error}", style="bold red") if result.error else "")
        table = self.query_one("#test-preview", DataTable)
        table.clear(columns=True)
        names = [name for name, _ in result.columns]
        for name, kind in result.columns:
            table.add_column(f"{name}\n{kind}", key=name)
        for rec in result.records:
            table.add_row(*(cell(rec.get(n)) for n in names))
        self._metadata_view.update(self._metadata())
        self._traceback.update(
            (result.error or "no error") + (f"\n\n{result.traceback}" if result.traceback else ""))
        pane.set_text(result.log)
        tabs = self.query_one(TabbedContent)
        if not (result.ok and tabs.active in ("tab-test-json", "tab-test-metadata")):
            tabs.active = "tab-preview" if result.ok else "tab-test-error"  # else: stay, updated
        if tabs.active == "tab-test-json":
            self._show_json()
        if result.ok:
            table.focus()
        self.refresh_bindings()

    def _show_json(self) -> None:
        """The records as highlighted JSON, built the first time the tab is opened (Pygments)."""
        if self._json_shown or self.result is None:
            return
        self._json_shown = True
        from rich.syntax import Syntax

        text = json.dumps(self.result.records, indent=2, ensure_ascii=False, default=str)
        self._json.update(
            Syntax(text, "json", theme="monokai", background_color="default", word_wrap=True))

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        """Opening the JSON tab renders it."""
        if event.pane.id == "tab-test-json":
            self._show_json()

    def _metadata(self) -> str:
        r = self.result
        assert r is not None
        after = json.dumps(r.metadata_after, indent=2, default=str) if r.metadata_after is not None \
            else "(the script did not call metadata.save)"
        return (f"metadata before (what the script read):\n{json.dumps(r.metadata_before, indent=2)}"
                f"\n\nmetadata after (what a run would commit):\n{after}\n")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel only while the test runs; Test again only once it ended."""
        if action == "cancel":
            return self.job is not None
        if action == "test":
            return self.job is None
        return True

    def action_tab(self, tab: str) -> None:
        """Show one of the tabs."""
        self.query_one(TabbedContent).active = tab

    def action_cancel(self) -> None:
        """Stop the running test (its script's process tree is killed)."""
        self.peak.cancel_job(self.feed)

    def action_run(self) -> None:
        """Run the feed for real."""
        self.peak.start_run(self.feed)
        self.app.pop_screen()

    def action_test(self) -> None:
        """Test again, in this screen."""
        self.peak.start_test(self.feed)
