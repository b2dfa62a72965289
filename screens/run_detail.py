"""One run: its full log (searchable, copyable), the error and traceback, and the metadata it committed."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static, TabbedContent, TabPane

from peak_tui.widgets.log_pane import LogPane, LogView
from peak_tui.widgets.quiet_footer import QuietFooter
from screens.formatting import count, duration, full_time, short_time, status_text

if TYPE_CHECKING:
    from peak_tui.app import PeakApp
    from peak_tui.models import Run
    from peak_tui.widgets.live import LiveJob


def extract_traceback(log: str) -> str:
    """The last Python traceback in a log (the script's stderr), or ''."""
    lines = log.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    if not starts:
        return ""
    out = []
    for line in lines[starts[-1]:]:
        if line.startswith("[peak]"):
            break
        out.append(line)
    return "\n".join(out)


def facts_text(run: Run) -> Text:
    """`run #12 of demo_orders · ✓ succeeded · manual · 01-07 09:33 · 1.5 s · 250 records`."""
    t = Text()
    t.append(f"run #{run.id} of {run.feed}  ", style="bold")
    t.append_text(status_text(run.status))
    t.append(f"  · {run.trigger}{' (catch-up)' if run.catch_up else ''}"
             f" · {short_time(run.started_at or run.queued_at)} · {duration(run.duration)}"
             f" · {count(run.records)} records")
    if run.failed_rows:
        t.append(f" · {count(run.failed_rows)} failed rows", style="yellow")
    return t


def metadata_text(run: Run) -> str:
    """The metadata before the run and what it committed, plus the run's identifiers."""
    def dump(obj: Any) -> str:
        return json.dumps(obj, indent=2, ensure_ascii=False, default=str)

    after = dump(run.metadata_after) if run.status == "succeeded" else \
        "(nothing committed: the metadata is unchanged)"
    return (f"request id   {run.request_id}\nqueued       {full_time(run.queued_at)}\n"
            f"started      {full_time(run.started_at)}\nended        {full_time(run.ended_at)}\n\n"
            f"metadata before the run:\n{dump(run.metadata_before)}\n\n"
            f"metadata committed by the run:\n{after}\n")


class RunDetailScreen(Screen[None]):
    """Logs, error and metadata of one run; Run again and Edit feed from here."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="run.back"),
        Binding("r", "run", "Run again", id="run.run_again"),
        Binding("e", "edit", "Edit feed", id="run.edit"),
        Binding("1", "tab('tab-log')", "Log", id="run.tab_log", show=False),
        Binding("2", "tab('tab-error')", "Error", id="run.tab_error", show=False),
        Binding("3", "tab('tab-metadata')", "Metadata", id="run.tab_metadata", show=False),
    ]
    HELP = (
        "Run detail: the run's facts on top; tabs for its Log (1), Error and traceback (2) and the "
        "Metadata before and after (3). In the log, / searches, n/N step through hits, f follows "
        "new lines, c copies the whole stored log (OSC 52). r runs the feed again; e edits it."
    )

    def __init__(self, run_id: int) -> None:
        super().__init__()
        self.peak.prime_breakpoints(self)
        self.run_id = run_id
        self.run: Run | None = None
        self.log_text = ""
        self._job: LiveJob | None = None

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        """Facts, error line, and the Log / Error / Metadata tabs."""
        self.title = f"Run #{self.run_id}"
        yield Header()
        yield Static(f"loading run #{self.run_id}…", id="run-facts")
        yield Static("", id="run-error")
        with TabbedContent(id="run-tabs"):
            with TabPane("Log", id="tab-log"):
                yield LogPane(id="run-log")
            with TabPane("Error", id="tab-error"), VerticalScroll():
                yield Static("", id="run-traceback", markup=False)
            with TabPane("Metadata", id="tab-metadata"), VerticalScroll():
                yield Static("", id="run-metadata", markup=False)
        yield QuietFooter(compact=True)

    def on_mount(self) -> None:
        """Load the run and its stored log; follow it live if this app is running it."""
        pane = self._pane = self.query_one(LogPane)
        pane.copy_source = lambda: self.log_text or pane_text(pane)
        self.peak.feeds_changed.subscribe(self, self._changed)
        self.reload()

    def on_unmount(self) -> None:
        """Stop feeding the pane from a live job."""
        if self._job is not None:
            # at app shutdown the children may already be gone: detach the pane kept at mount
            self._job.detach(self._pane)

    def reload(self) -> None:
        """Read the run and its log in a thread worker."""
        self.peak.background(self._read, done=self._loaded, what=f"loading run #{self.run_id}",
                             group="run-load", exclusive=True, modal=False)

    def _read(self) -> tuple[Run, str]:
        ws = self.peak.ws
        run = ws.runs.get(self.run_id)
        # metadata is stored as the script saved it (the next run needs it verbatim); shown, any
        # known secret in it is masked, as the CLI does
        redactor = ws.redactor()
        run.metadata_before = redactor.redact_obj(run.metadata_before)
        run.metadata_after = redactor.redact_obj(run.metadata_after)
        return run, ws.runs.logs(self.run_id)

    def _changed(self, name: str | None) -> None:
        if self.run is not None and name in (None, self.run.feed) and self._job is not None \
                and self._job.feed not in self.peak.live:
            self.reload()  # the live run ended: show what was stored

    def _loaded(self, loaded: tuple[Run, str]) -> None:
        self.run, self.log_text = loaded
        run = self.run
        pane = self.query_one(LogPane)
        job = next((j for j in self.peak.live.values() if j.run_id == run.id), None)
        if job is not None and self._job is None:
            self._job = job
            pane.clear()
            job.attach(pane)
        elif job is None:
            if self._job is not None:
                # the pane already holds the live tail of this log: keep it (and the user's place)
                self._job.detach(pane)
                self._job = None
            else:
                pane.set_text(self.log_text)
        if self.focused is None or not isinstance(self.focused, LogView):
            pane.log_view.focus()
        self.query_one("#run-facts", Static).update(facts_text(run))
        error = self.query_one("#run-error", Static)
        error.update(Text(f"✗ {run.error}", style="bold red") if run.error else "")
        error.display = bool(run.error)
        tb = extract_traceback(self.log_text)
        self.query_one("#run-traceback", Static).update(
            (run.error or "no error") + (f"\n\n{tb}" if tb else ""))
        self.query_one("#run-metadata", Static).update(metadata_text(run))
        if run.error and not self.log_text.strip():
            self.action_tab("tab-error")

    def action_tab(self, tab: str) -> None:
        """Show one of the tabs."""
        self.query_one(TabbedContent).active = tab

    def action_run(self) -> None:
        """Run the feed again."""
        if self.run is not None:
            self.peak.start_run(self.run.feed)

    def action_edit(self) -> None:
        """Edit the feed in the wizard."""
        if self.run is None:
            return
        from screens.wizard import FeedWizard

        feed = self.run.feed
        self.app.push_screen(FeedWizard(self.peak.ws, feed),
                             self.peak.wizard_done)


def pane_text(pane: LogPane) -> str:
    """The lines a pane shows, for copying when no stored log exists yet."""
    return "\n".join(pane.lines) + "\n"
