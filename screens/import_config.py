"""Stage 2, Import configuration: dependencies, the script, and Test with live logs and a preview."""
from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Label, Static

from peak_tui import demo
from peak_tui.execution import TestResult, test_feed
from peak_tui.widgets.dependency_chips import DependencyChips
from peak_tui.widgets.log_pane import LogPane
from peak_tui.widgets.record_preview import RecordPreview
from peak_tui.widgets.script_editor import LEAVE_HINT, ScriptEditor, syntax_problem
from screens.wizard_form import Stage

if TYPE_CHECKING:
    from peak_tui.models import Feed
    from peak_tui.workspace import Workspace

TEMPLATE = demo.script("template")


class ImportStage(Stage):
    """Dependencies as chips, the script in a code editor, and Test (run by an App-owned worker)."""

    HELP = """
    Import configuration: type a pip requirement and press Enter or Tab to add it as a chip
    (Delete or Backspace on a focused chip removes it). In the script editor Tab indents and Esc
    leaves the editor. ctrl+t tests the script (nothing is loaded), ctrl+o cancels the test, ctrl+r
    repaints the log and follows its end. A failed test selects the failing line in the editor.
    """

    step_title = "Import configuration"

    DEFAULT_CSS = """
    ImportStage #test-actions { height: 1; margin-top: 1; }
    ImportStage #test-actions Button { margin-right: 2; }
    ImportStage #test-status { width: 1fr; color: $text-muted; }
    ImportStage #test-log { height: 12; display: none; border: round $primary 50%; }
    ImportStage.-tested #test-log { display: block; }
    ImportStage #test-output { height: auto; }
    """

    class TestStarted(Message):
        """A test began."""

    class TestFinished(Message):
        """A test ended (passed, failed or cancelled)."""

        def __init__(self, result: TestResult, cancelled: bool) -> None:
            super().__init__()
            self.result, self.cancelled = result, cancelled

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(lazy=True, id=id)
        self.testing = False
        self._cancel: threading.Event | None = None
        self._started = 0.0
        self.last_result: TestResult | None = None

    def compose_form(self) -> ComposeResult:
        """Dependencies, script editor, test controls, log and preview."""
        yield Static("Packages the script needs besides requests, then the script itself: it calls "
                     "outputStream.write(record) per record and metadata.save(state) for the next "
                     "run.", classes="stage-intro")
        yield Label("Dependencies", classes="section-title")
        yield DependencyChips(id="deps")
        yield Label("Script", classes="section-title")
        yield ScriptEditor(TEMPLATE, id="script",
                           hint=LEAVE_HINT + " · ctrl+t tests the script")
        with Horizontal(id="test-actions"):
            yield Button("Test", id="test-run", compact=True, variant="primary")
            yield Button("Cancel test", id="test-cancel", compact=True, disabled=True)
            yield Static("Test runs the script without loading anything.", id="test-status",
                         markup=False)
        # the log and the preview are mounted by the first test: most visits never test
        yield Vertical(id="test-output")

    # values -----------------------------------------------------------------------------------
    @property
    def deps(self) -> DependencyChips:
        """The dependency field."""
        return self.query_one(DependencyChips)

    @property
    def editor(self) -> ScriptEditor:
        """The script editor."""
        return self.query_one(ScriptEditor)

    def defaults(self) -> dict[str, Any]:
        """A new feed starts from the template script and no extra dependencies."""
        return {"dependencies": [], "script": TEMPLATE}

    def form_values(self) -> dict[str, Any]:
        """Dependencies and script."""
        return {"dependencies": self.deps.values, "script": self.editor.text}

    def set_form_values(self, values: dict[str, Any]) -> None:
        """Fill from a feed."""
        if "dependencies" in values:
            self.deps.set_values(list(values["dependencies"] or []))
        if "script" in values:
            self.editor.text = values["script"]

    def values_problem(self, values: dict[str, Any]) -> str | None:
        """The engine's script rule (dependencies were checked as they became chips)."""
        return syntax_problem(values.get("script") or "")

    def problem(self) -> str | None:
        """Text typed but not yet a chip, or the values' rules."""
        if self.built and self.deps.pending:
            return (f"dependencies: press Enter to add {self.deps.pending!r} as a dependency, "
                    "or clear the field")
        return super().problem()

    def reveal_problems(self) -> Widget | None:
        """Point at the dependency field or the editor."""
        if not self.built:
            return None
        if self.deps.pending:
            return self.deps.query_one("#chips-input")
        problem = self.editor.problem()
        if problem:
            self.editor._show(problem)
            return self.editor.text_area
        return None

    @on(DependencyChips.Changed)
    @on(ScriptEditor.Changed)
    def _changed(self, event: Message) -> None:
        self.changed()

    # test -------------------------------------------------------------------------------------
    def start_test(self, ws: Workspace, feed: Feed) -> None:
        """Run Test in a thread worker owned by the App (a popped screen would cancel its own)."""
        if self.testing:
            return
        cancel = threading.Event()
        self._cancel, self.testing, self._started = cancel, True, time.monotonic()
        pane = self._output()
        self.add_class("-tested")
        self._set_running(True)
        self.set_status("Testing… 0 s (ctrl+o cancels)")
        self.set_interval(0.5, self._tick, name="test-clock")
        self.post_message(self.TestStarted())

        def job() -> None:
            try:
                result = test_feed(ws, feed, on_log=pane.push, cancel=cancel)
            except Exception as e:  # an engine fault must reach the user, not kill the worker
                result = TestResult(ok=False, error=f"internal error: {type(e).__name__}: {e}",
                                    traceback=traceback.format_exc())
            self.post_message(self.TestFinished(result, cancel.is_set()))

        self.app.run_worker(job, thread=True, group="test", exclusive=True, exit_on_error=False,
                            name="feed-test")

    def _output(self) -> LogPane:
        """The log pane (and the preview), made on the first test, emptied on the next ones."""
        panes = self.query(LogPane)
        if panes:
            pane = panes.first()
            pane.clear()
            pane.resume_follow()
            self.query_one(RecordPreview).clear()
            return pane
        pane = LogPane(max_lines=10_000, id="test-log")
        self.query_one("#test-output").mount_all([pane, RecordPreview(id="preview")])
        return pane

    def cancel_test(self) -> None:
        """Ask the engine to stop the test (it kills the script's process tree)."""
        if self._cancel is not None and self.testing:
            self._cancel.set()
            self.set_status("Cancelling…")

    def _tick(self) -> None:
        if self.testing and not (self._cancel and self._cancel.is_set()):
            self.set_status(f"Testing… {time.monotonic() - self._started:.0f} s (ctrl+o cancels)")

    @on(TestFinished)
    def _finished(self, event: TestFinished) -> None:
        self.testing = False
        self.last_result = event.result
        for timer in list(self._timers):
            if timer.name == "test-clock":
                timer.stop()
        self._set_running(False)
        self.query_one(LogPane).flush()
        result = event.result
        if event.cancelled:
            self.set_status(f"Test cancelled after {result.duration:.1f} s.")
            return
        self.query_one(RecordPreview).show(result)
        if result.ok:
            self.set_status(f"Test passed: {result.total:,} records. Preview below.")
        else:
            self.set_status("Test failed: see the summary and traceback below.")
            if result.error_line:
                self.editor.mark_line(result.error_line,
                                      f"line {result.error_line}: {result.error or 'failed here'}")

    def _set_running(self, running: bool) -> None:
        self.query_one("#test-run", Button).disabled = running
        self.query_one("#test-cancel", Button).disabled = not running

    def set_status(self, text: str) -> None:
        """The line next to the Test button."""
        self.query_one("#test-status", Static).update(text)

    def refresh_logs(self) -> None:
        """Paint queued log lines now and follow the end again."""
        for pane in self.query(LogPane):
            pane.flush()
            pane.resume_follow()

    def on_unmount(self) -> None:
        """Leaving the wizard stops a running test."""
        if self._cancel is not None:
            self._cancel.set()

    @on(Button.Pressed, "#test-cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.cancel_test()
