"""A feed's run history: its runs newest first, with sparklines of records and duration per run."""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Header, Label, Sparkline, Static

from peak_tui.widgets.quiet_footer import QuietFooter
from screens.formatting import count, duration, fill_table, short_time, status_text

if TYPE_CHECKING:
    from peak_tui.app import PeakApp
    from peak_tui.models import Run

HISTORY_LIMIT = 200
COLUMNS = (("id", "Run"), ("status", "Status"), ("trigger", "Trigger"), ("started", "Started"),
           ("duration", "Duration"), ("records", "Records"), ("error", "Error"))


def history_summary(runs: list[Run]) -> str:
    """`42 runs · 40 succeeded (95%) · median 1.2 s · last 250 records`."""
    if not runs:
        return "no runs yet: press r to run the feed"
    done = [r for r in runs if r.status in ("succeeded", "failed", "cancelled")]
    ok = sum(1 for r in done if r.status == "succeeded")
    durations = sorted(d for r in runs if (d := r.duration) is not None)
    parts = [f"{len(runs)} runs" + (" (newest shown)" if len(runs) >= HISTORY_LIMIT else "")]
    if done:
        parts.append(f"{ok} succeeded ({ok * 100 // len(done)}%)")
    if durations:
        parts.append(f"median {duration(durations[len(durations) // 2])}")
    return " · ".join(parts)


class RunHistoryScreen(Screen[None]):
    """Runs of one feed; Enter opens a run's logs, error and metadata."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="history.back"),
        Binding("r", "run", "Run again", id="history.run"),
        Binding("e", "edit", "Edit feed", id="history.edit"),
        Binding("enter", "open", "Open run", id="history.open", show=False),
        Binding("f5", "reload", "Reload", id="history.reload", show=False),
    ]
    HELP = (
        "Run history: the feed's runs, newest first, with status, trigger, start time, duration and "
        "records loaded. The sparklines show records per run and duration per run, oldest on the "
        "left. Enter opens a run (its log, error and the metadata it committed); r runs the feed "
        "again; e edits it; Escape goes back."
    )

    def __init__(self, feed: str) -> None:
        super().__init__()
        self.peak.prime_breakpoints(self)
        self.feed = feed
        self.runs: list[Run] = []
        self.loaded = False

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Summary, two sparklines, the run table."""
        self.title = f"Run history · {self.feed}"
        yield Header()
        yield Static("loading runs…", id="history-summary")
        with Horizontal(id="history-sparks"):
            with Vertical(classes="spark-box"):
                yield Label("records per run", classes="spark-label")
                yield Sparkline([], id="spark-records")
            with Vertical(classes="spark-box"):
                yield Label("duration per run", classes="spark-label")
                yield Sparkline([], id="spark-duration")
        yield DataTable(id="run-table", cursor_type="row", zebra_stripes=True)
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        """Load the runs in the background and reload when this feed's runs change."""
        self.query_one("#run-table", DataTable).focus()
        self.peak.feeds_changed.subscribe(self, self._changed)
        self.reload()

    def _changed(self, name: str | None) -> None:
        if name in (None, self.feed):
            self.reload()

    def reload(self) -> None:
        """Re-read the runs in a thread worker."""
        self.peak.background(self._read, done=self._loaded, what=f"loading the runs of {self.feed}",
                             group="history-load", exclusive=True, modal=False)

    def _read(self) -> list[Run]:
        self.peak.ws.feeds.get(self.feed)  # a clear NotFound if the feed was deleted meanwhile
        return self.peak.ws.runs.list(self.feed, limit=HISTORY_LIMIT)

    def action_reload(self) -> None:
        """Re-read the runs."""
        self.reload()

    def _loaded(self, runs: list[Run]) -> None:
        self.runs = runs
        self.loaded = True
        table = self.query_one("#run-table", DataTable)
        fill_table(table, COLUMNS, [
            (Text(f"#{r.id}", justify="right"), status_text(r.status), r.trigger,
             short_time(r.started_at or r.queued_at), duration(r.duration),
             Text(count(r.records), justify="right"), Text((r.error or "")[:60], style="red"))
            for r in runs], [str(r.id) for r in runs], max_width=60)
        oldest_first = list(reversed(runs))
        self.query_one("#spark-records", Sparkline).data = [float(r.records) for r in oldest_first]
        self.query_one("#spark-duration", Sparkline).data = [r.duration or 0.0 for r in oldest_first]
        self.query_one("#history-summary", Static).update(history_summary(runs))

    def selected_run(self) -> int | None:
        """The id of the run under the cursor."""
        table = self.query_one("#run-table", DataTable)
        if not table.row_count:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or 0)

    @on(DataTable.RowSelected, "#run-table")
    def _row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        """Open the run under the cursor."""
        run_id = self.selected_run()
        if run_id is None:
            self.notify("no runs yet: press r to run the feed", timeout=3)
            return
        from screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(run_id))

    def action_run(self) -> None:
        """Run the feed again."""
        self.peak.start_run(self.feed)

    def action_edit(self) -> None:
        """Edit the feed in the wizard."""
        from screens.wizard import FeedWizard

        self.app.push_screen(FeedWizard(self.peak.ws, self.feed), self.peak.wizard_done)
