"""Manage > Data Sources: every feed with its last run, a filter, and the actions on the selected feed."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Header, Input, Static

from peak_tui.widgets.quiet_footer import QuietFooter
from screens.feed_actions import FeedActions
from screens.feed_rows import COLUMNS, FILTER_HELP, FeedFilter, detail_text, row_cells, status_cell
from screens.formatting import count, fill_table

if TYPE_CHECKING:
    from textual.timer import Timer

    from peak_tui.feeds import FeedSummary

EMPTY = "No feeds yet. Press a to add one: the wizard takes you from connection to trigger."


class DataSourcesScreen(FeedActions):
    """The feed list (a DataTable) with filter-as-you-type and per-feed actions."""

    TITLE = "Data Sources"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "run", "Run", id="feeds.run"),
        Binding("t", "test", "Test", id="feeds.test"),
        Binding("e", "edit", "Edit", id="feeds.edit"),
        Binding("a,n", "add", "Add", id="feeds.add"),
        Binding("h", "history", "Runs", id="feeds.history"),
        Binding("p", "pause", "Pause", id="feeds.pause"),
        Binding("p,u", "resume", "Resume", id="feeds.resume"),
        Binding("g", "tags", "Tags", id="feeds.tags"),
        Binding("d", "delete", "Delete", id="feeds.delete"),
        Binding("x", "cancel_job", "Cancel run", id="feeds.cancel", show=False),
        Binding("slash", "filter", "Filter", id="feeds.filter", show=False),
        Binding("f5", "reload", "Reload", id="feeds.reload", show=False),
        Binding("escape", "clear_filter", "Clear filter", id="feeds.clear_filter", show=False),
    ]
    HELP = (
        "Data Sources lists every feed: its connection, last run (status, start time, records), "
        "next run, tags and whether it is paused.\n\nType in the filter box (`/`) to narrow the list: "
        f"{FILTER_HELP}. Words combine (all must match).\n\nOn the selected feed: r runs it, t tests "
        "it (nothing is loaded), e edits it, h or Enter opens its run history, p pauses or resumes "
        "its schedule and webhook (u also resumes), g edits its tags, d deletes it, x cancels its running job. "
        "a adds a feed. Ctrl+P lists every action."
    )

    def __init__(self) -> None:
        super().__init__()
        self.peak.prime_breakpoints(self)
        self.summaries: list[FeedSummary] = []
        self.shown: list[FeedSummary] = []
        self.loaded = False
        self._filter = FeedFilter()
        self.mounted_at = 0.0
        self._paused_shown = False
        self._prewarm_timer: Timer | None = None
        self.first_load_seconds: float | None = None
        """Mount to a filled table, the first time (the bench and a speed test read it)."""

    def compose(self) -> ComposeResult:
        """Filter box, feed table (and, on wide terminals, the selected feed's details)."""
        yield Header()
        yield Input(placeholder="filter: name  tag:demo  status:failed  conn:NAME   (/)", id="feed-filter")
        with Horizontal(id="feeds-body"):
            table: DataTable[Any] = DataTable(id="feed-table", cursor_type="row", zebra_stripes=True)
            for key, label in COLUMNS:
                table.add_column(label, key=key)  # until the first load fills it
            yield table
            yield Static("", id="feed-detail")
        yield Static("loading feeds…", id="feeds-summary")
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        """Load in the background; keep the list fresh as jobs progress and finish."""
        self.mounted_at = time.perf_counter()
        self.query_one("#feed-table", DataTable).focus()
        self.peak.feeds_changed.subscribe(self, lambda _name: self.reload())
        self.peak.jobs_changed.subscribe(self, self._job_changed)
        self.set_interval(0.5, self._tick_live, name="live-progress")
        self.reload()  # the query runs while the first frames paint (its imports are light)

    def on_screen_resume(self) -> None:
        """Coming back from a wizard or a history screen: things may have changed."""
        if self.loaded:
            self.reload()

    # loading ----------------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the feed list in a thread worker (one JOIN query)."""
        # ws.feeds is built (and its modules imported) in the worker, not on the UI thread
        self.peak.background(self.peak.read_feeds, done=self._loaded,
                             what="loading the feeds",
                             group="feeds-load", exclusive=True, modal=False)

    def action_reload(self) -> None:
        """Re-read the feed list."""
        self.reload()

    def _loaded(self, summaries: list[FeedSummary]) -> None:
        self.summaries = summaries
        self.loaded = True
        self.peak.feed_names = [s.name for s in summaries]
        self._refill()
        if self.first_load_seconds is None:
            self.first_load_seconds = time.perf_counter() - self.mounted_at

    def _refill(self) -> None:
        table = self.query_one("#feed-table", DataTable)
        selected = self.selected_name()
        live = self.peak.live
        self.shown = [s for s in self.summaries if self._filter.matches(s, live.get(s.name))]
        fill_table(table, COLUMNS, [row_cells(s, live.get(s.name)) for s in self.shown],
                   [s.name for s in self.shown])
        if selected is not None and selected in table.rows:
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._update_summary()
        self._update_detail()

    def _update_summary(self) -> None:
        if not self.summaries:
            text = EMPTY
        else:
            failed = sum(1 for s in self.summaries if s.last_status == "failed")
            text = f"{len(self.shown):,} of {len(self.summaries):,} feeds"
            if failed:
                text += f" · {failed:,} failed last run"
            if self.peak.live:
                text += f" · {len(self.peak.live)} running"
        self.query_one("#feeds-summary", Static).update(text)

    def _job_changed(self, name: str) -> None:
        """A test started or ended: only that row's status changes (nothing to re-read)."""
        table = self.query_one("#feed-table", DataTable)
        summary = next((s for s in self.shown if s.name == name), None)
        if summary is not None and name in table.rows:
            table.update_cell(name, "status", status_cell(summary, self.peak.live.get(name)))
        self._update_summary()

    def _tick_live(self) -> None:
        """Live progress of running jobs, without re-reading the database."""
        table = self.query_one("#feed-table", DataTable)
        by_name = {s.name: s for s in self.shown}
        for name, job in list(self.peak.live.items()):
            if name in by_name and name in table.rows:
                table.update_cell(name, "status", status_cell(by_name[name], job))
                if job.kind == "run":
                    table.update_cell(name, "records", Text(count(job.records), justify="right"))

    # selection --------------------------------------------------------------------------------
    def selected_name(self) -> str | None:
        """The feed under the cursor, if any."""
        table = self.query_one("#feed-table", DataTable)
        if not table.row_count:
            return None
        try:
            return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        except Exception:  # the cursor is outside the (just cleared) table
            return None

    def selected(self) -> FeedSummary | None:
        """The summary of the selected feed."""
        name = self.selected_name()
        return next((s for s in self.shown if s.name == name), None)

    def _need(self) -> str | None:
        name = self.selected_name()
        if name is None:
            self.notify("no feed selected" if self.summaries else "no feeds yet: press a to add one",
                        severity="warning", timeout=3)
        return name

    @on(DataTable.RowHighlighted, "#feed-table")
    def _highlighted(self) -> None:
        self._update_detail()
        # a feed the cursor rests on may be tested next: have its interpreter warm by then
        if self._prewarm_timer is not None:
            self._prewarm_timer.stop()
        self._prewarm_timer = self.set_timer(0.15, self._prewarm)

    def _prewarm(self) -> None:
        if (s := self.selected()) is not None:
            self.peak.prewarm(s.dependencies)

    def _update_detail(self) -> None:
        s = self.selected()
        paused = bool(s and s.paused)
        if paused != self._paused_shown:  # the footer's p reads Pause or Resume
            self._paused_shown = paused
            self.refresh_bindings()
        panel = self.query_one("#feed-detail", Static)
        panel.update(detail_text(s, self.peak.live.get(s.name)) if s else "")

    @on(DataTable.RowSelected, "#feed-table")
    def _row_selected(self) -> None:
        self.action_history()

    # filter -----------------------------------------------------------------------------------
    @on(Input.Changed, "#feed-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = FeedFilter.parse(event.value)
        if self.loaded:
            self._refill()

    @on(Input.Submitted, "#feed-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#feed-table", DataTable).focus()

    def action_filter(self) -> None:
        """Put the cursor in the filter box."""
        self.query_one("#feed-filter", Input).focus()

    def action_clear_filter(self) -> None:
        """Escape: clear the filter (or, if it is empty, go back to the list)."""
        box = self.query_one("#feed-filter", Input)
        if box.value:
            box.value = ""
        self.query_one("#feed-table", DataTable).focus()

    # actions ----------------------------------------------------------------------------------
    def action_run(self) -> None:
        """Run the selected feed."""
        if name := self._need():
            self.peak.start_run(name)

    def action_test(self) -> None:
        """Test the selected feed: run its script and preview records; nothing is loaded."""
        if name := self._need():
            self.peak.start_test(name)

    def action_cancel_job(self) -> None:
        """Cancel the selected feed's running job."""
        if (name := self._need()) and not self.peak.cancel_job(name):
            self.notify(f"{name} is not running", timeout=3)

    def action_history(self) -> None:
        """Open the selected feed's run history."""
        if name := self._need():
            from screens.run_history import RunHistoryScreen

            self.app.push_screen(RunHistoryScreen(name))
