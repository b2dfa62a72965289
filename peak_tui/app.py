"""The Textual app shell: screens, global keys, the command palette, and the jobs the app owns.

Runs and Tests started from any screen are thread workers of the App (popping a screen must not
cancel them). Every blocking call (database, Test, Run) goes through a worker; one
`Worker.StateChanged` handler turns results into screen updates and failures into readable messages.
"""
from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from peak_tui.widgets.live import LiveJob
from screens.commands import PeakCommands
from screens.data_sources import DataSourcesScreen

if TYPE_CHECKING:
    from peak_tui.feeds import FeedSummary
    from peak_tui.workspace import Workspace
    from screens.test_result import TestResultScreen

log = logging.getLogger("peak_tui.app")


class PeakApp(App[None]):
    """peak-tui: author, test and run feeds from the keyboard."""

    CSS_PATH = "app.tcss"
    TITLE = "peak-tui"
    COMMANDS: ClassVar = App.COMMANDS | {PeakCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 (Textual's own type)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="app.help"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", show=False, priority=True),
        Binding("f2", "start_scheduler", "Start scheduler", id="app.start_scheduler", show=False),
        Binding("f3", "warehouse", "Warehouse settings", id="app.warehouse", show=False),
    ]

    def __init__(self, ws: Workspace, *, demo_url: str | None = None, recover: bool = False) -> None:
        super().__init__()
        self.ws = ws
        self._recover = recover
        """Settle dead runs before the first feed list (`ws` was opened without doing it)."""
        self.demo_url = demo_url
        self.live: dict[str, LiveJob] = {}
        self.feed_names: list[str] = []
        """Names from the last feed-list load (the command palette offers them)."""
        self.feeds_changed: Signal[str | None] = Signal(self, "feeds-changed")
        """Published (with a feed name, or None) whenever feeds or their runs changed."""
        self.jobs_changed: Signal[str] = Signal(self, "jobs-changed")
        """Published with a feed name when a Test of it starts or ends (it changes nothing stored)."""
        # worker -> (on success, what it does, its live job, show a failure as a modal)
        self._work_done: dict[Worker[Any], tuple[Any, str, LiveJob | None, bool]] = {}
        self.warehouse = "local"
        self.scheduler: str = "unknown"

    def prime_breakpoints(self, screen: Screen[Any]) -> None:
        """Give a new screen its -narrow/-wide class before it mounts.

        Textual adds it at the screen's first resize, after its widgets are styled, and then
        restyles every one of them again (~40 ms at start-up, measured with bench/bench_tui.py).
        """
        points = self.HORIZONTAL_BREAKPOINTS or []
        current = [name for threshold, name in points if self.size.width >= threshold][-1:]
        screen.update_classes({name: name in current for _, name in points})

    def get_default_screen(self) -> DataSourcesScreen:
        """Data Sources is the base screen (a mode would re-parse every stylesheet at start-up)."""
        return DataSourcesScreen()

    # header -----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Read the workspace facts shown in the header, off the UI thread; keep warm
        interpreters for Test while the app runs."""
        self.call_after_refresh(self._collect_garbage_again)
        self.call_after_refresh(self._keep_warm)
        self.call_after_refresh(self.refresh_status)  # after the first frame, like the feed list
        self.set_interval(10, self.refresh_status, name="status")
        if self.demo_url:
            self.notify(f"The demo API serves at {self.demo_url} while the app runs; the demo "
                        "feeds call it. Select one and press r to run it.", title="Demo", timeout=10)

    def read_feeds(self) -> list[FeedSummary]:
        """The feed list, for a worker; the first call settles runs whose process died, if the
        workspace was opened without doing it (as `make_app` does: it costs the first frame ~15 ms)."""
        if self._recover:
            from peak_tui.recovery import recover_stale_runs

            recover_stale_runs(self.ws)
            self._recover = False
        return self.ws.feeds.list()

    def _collect_garbage_again(self) -> None:
        """After the first frame: what start-up built stays for good (frozen, out of every later
        collection), and collection, paused by `make_app`, resumes."""
        if not gc.isenabled():
            gc.freeze()
            gc.enable()

    def _keep_warm(self) -> None:
        from peak_tui.runtime.warm import POOL

        POOL.enable()

    def on_unmount(self) -> None:
        """Kill the warm interpreters kept for Test (they would die with the process anyway, but
        their directories would stay)."""
        from peak_tui.runtime.warm import POOL

        POOL.close()
        gc.enable()  # in case the app ended before its first frame

    def refresh_status(self) -> None:
        """Re-read the warehouse kind and the scheduler state in the background."""
        self.background(self._read_status, done=self._show_status, what="reading the workspace status",
                        group="status", exclusive=True, quiet=True)

    def _read_status(self) -> tuple[str, str]:
        return self.ws.warehouse_kind(), scheduler_state(self.ws)

    def _show_status(self, status: tuple[str, str]) -> None:
        changed = status[1] != self.scheduler
        self.warehouse, self.scheduler = status
        self.sub_title = f"{self.warehouse} warehouse · scheduler {self.scheduler}"
        if changed:  # "Start scheduler" is offered only while it is off
            self.refresh_bindings()

    # background work --------------------------------------------------------------------------
    def background(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None] | None = None,
                   what: str = "working", group: str = "db", exclusive: bool = False,
                   quiet: bool = False, modal: bool = True) -> Worker[Any]:
        """Call `fn(*args)` in a thread worker; `done(result)` runs on the UI thread after it.

        A failure shows as a modal (`modal=False`: a notification, for loads that a screen retries
        whenever it comes back into view), or not at all when `quiet`.
        """
        worker = self.run_worker(partial(fn, *args), thread=True, group=group, exclusive=exclusive,
                                 exit_on_error=False, description=what, name=what)
        self._work_done[worker] = (done, what if not quiet else "", None, modal)
        return worker

    def start_run(self, name: str) -> None:
        """Run a feed in an App-owned worker; the feed list shows its progress."""
        self._start(name, "run")

    def start_test(self, name: str) -> None:
        """Test a saved feed in an App-owned worker. A quick test opens its result; one still
        running after `LIVE_AFTER` seconds opens the Test screen with its log streaming."""
        from screens.test_result import LIVE_AFTER

        job = self._start(name, "test")
        if job is None:
            return
        screen = self.test_screen()
        if screen is self.screen and screen.feed == name:
            job.shown = True
            screen.open(name, job=job, log_now=False)  # Test again, from the Test screen
        else:
            # Building the screen while the test runs would make the test wait for the interpreter
            # lock at every step (measured: a 0.05 s warm test took 0.4 s)
            self.set_timer(LIVE_AFTER, partial(self._show_live_test, job))

    def test_screen(self) -> TestResultScreen:
        """The one Test screen, built on first use and kept (installed): a second Test reuses it
        instead of composing five tabs again."""
        from screens.test_result import TestResultScreen

        if not self.is_screen_installed("test-result"):
            self.install_screen(TestResultScreen(), name="test-result")
        screen = self.get_screen("test-result")
        assert isinstance(screen, TestResultScreen)
        return screen

    def _show_test(self, feed: str, *, job: LiveJob | None = None, result: Any = None) -> None:
        if job is not None:
            job.shown = True
        screen = self.test_screen()
        screen.open(feed, job=job, result=result)
        if screen not in self.screen_stack:
            self.push_screen(screen)

    def _show_live_test(self, job: LiveJob) -> None:
        if self.live.get(job.feed) is job and self.test_screen().job is not job:
            self._show_test(job.feed, job=job)

    def _start(self, name: str, kind: str) -> LiveJob | None:
        job = self.live.get(name)
        if job is not None:
            self.notify(f"{name} is already {job.status}; wait for it or cancel it (x)",
                        title="Already running", severity="warning")
            return None
        job = self.live[name] = LiveJob(name, kind)
        worker, done = (self._run_worker(job), self._run_done) if kind == "run" else \
            (self._test_worker(job), self._test_done)
        self._work_done[worker] = (partial(done, job), f"{job.status} {name}", job, True)
        self._job_changed(job)
        return job

    def _job_changed(self, job: LiveJob) -> None:
        """A run changes the feed's runs (lists re-read); a test only its live status."""
        if job.kind == "run":
            self.feeds_changed.publish(job.feed)
        else:
            self.jobs_changed.publish(job.feed)

    def prewarm(self, dependencies: list[str]) -> None:
        """Have a warm interpreter ready for the next Test of a feed with these dependencies."""
        from peak_tui.execution import prewarm

        self.background(prewarm, self.ws, dependencies, group="prewarm", exclusive=True, quiet=True)

    def wizard_done(self, saved: str | None) -> None:
        """A FeedWizard closed: if it saved a feed, every open list re-reads."""
        if saved:
            self.notify(f"feed {saved} saved", timeout=3)
            self.feeds_changed.publish(saved)

    def cancel_job(self, name: str) -> bool:
        """Stop a feed's running job (kills the script's process tree); False if none runs."""
        job = self.live.get(name)
        if job is None:
            return False
        job.cancel.set()
        self.notify(f"cancelling the {job.kind} of {name}", timeout=3)
        return True

    @work(thread=True, group="runs", exclusive=False, exit_on_error=False, description="run a feed")
    def _run_worker(self, job: LiveJob) -> Any:
        from peak_tui.execution import run_feed

        def started(run_id: int) -> None:
            job.run_id = run_id

        return run_feed(self.ws, job.feed, trigger="manual", on_log=job.log, cancel=job.cancel,
                        on_progress=lambda p: setattr(job, "records", p.records), on_started=started)

    @work(thread=True, group="tests", exclusive=False, exit_on_error=False, description="test a feed")
    def _test_worker(self, job: LiveJob) -> Any:
        from peak_tui.execution import test_feed

        return test_feed(self.ws, self.ws.feeds.get(job.feed), on_log=job.log, cancel=job.cancel)

    def _run_done(self, job: LiveJob, run: Any) -> None:
        from screens.formatting import count, duration

        text = f"run #{run.id} {run.status}: {count(run.records)} records in {duration(run.duration)}"
        if run.error:
            text += f"\n{run.error[:300]}"
        self.notify(text, title=job.feed, severity="information" if run.status == "succeeded" else "error",
                    timeout=8)

    def _test_done(self, job: LiveJob, result: Any) -> None:
        screen = self.test_screen()
        on_screen = screen in self.screen_stack
        if screen.job is job and on_screen or not job.shown and not (on_screen and screen.job):
            # in place; or a quick test's first sight (even while another test runs unseen)
            self._show_test(job.feed, result=result)
            return
        # the user left this test's screen while it ran, or the screen follows another test now
        if screen.job is job:
            screen.open(job.feed, result=result)
        outcome = f"passed: {result.total:,} records" if result.ok else f"failed: {result.error}"
        self.notify(f"test of {job.feed} {outcome}", title="Test",
                    severity="information" if result.ok else "error", timeout=6)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker results reach the UI and worker failures become messages."""
        finished = event.state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED)
        entry = self._work_done.get(event.worker)
        if entry is None or not finished:
            return
        del self._work_done[event.worker]
        done, what, job, modal = entry
        if job is not None:
            self.live.pop(job.feed, None)
            self._job_changed(job)
        if not self.screen_stack:  # the app is shutting down
            return
        if event.state == WorkerState.SUCCESS and done is not None and _alive(done):
            done(event.worker.result)
            return
        if job is not None and job.kind == "test" and self.test_screen().job is job:
            # the Test screen follows this test: it must not keep saying "testing"
            from peak_tui.execution import TestResult

            error = event.worker.error
            self.test_screen().open(job.feed, result=TestResult(
                ok=False, error=f"{type(error).__name__}: {error}" if error else "cancelled",
                duration=job.elapsed, log="\n".join(job.lines) + "\n"))
        if event.state == WorkerState.ERROR and (what or job):
            self.show_error(event.worker.error, what, modal=modal)

    def show_error(self, error: BaseException | None, what: str = "working", *,
                   modal: bool = True) -> None:
        """A failure as the user should see it: short ones as a notification, others as a modal."""
        from screens.confirm import MessageScreen, describe_failure

        title, message, short = describe_failure(error, what, self.ws.home / "logs" / "tui-errors.log")
        if short or not modal:
            self.notify(message, title=title, severity="warning" if short else "error", timeout=10)
        else:
            self.push_screen(MessageScreen(title, message))

    # actions ----------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Offer "Start scheduler" only while the scheduler is off."""
        if action == "start_scheduler":
            return self.scheduler == "off"
        return True

    def action_help(self) -> None:
        """Help for the focused widget (F1)."""
        from screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.focused, self.screen))

    def action_warehouse(self) -> None:
        """The workspace's data warehouse: Local, Redshift (with S3) or Snowflake (F3)."""
        from screens.warehouse import WarehouseScreen

        if not isinstance(self.screen, WarehouseScreen):
            self.push_screen(WarehouseScreen(self.ws), lambda _kind: self.refresh_status())

    def action_start_scheduler(self) -> None:
        """Start the scheduler daemon for this workspace, detached from the app."""
        self.background(start_scheduler, self.ws, done=self._scheduler_started,
                        what="starting the scheduler")

    def _scheduler_started(self, message: str) -> None:
        self.notify(message, title="Scheduler")
        self.refresh_status()

    async def action_quit(self) -> None:
        """Quit; jobs still running are cancelled (their scripts are stopped, nothing is committed)."""
        for job in list(self.live.values()):
            job.cancel.set()
        self.exit()


def _alive(callback: Callable[..., Any]) -> bool:
    """False when a callback belongs to a screen or widget that has gone (the user left it)."""
    while isinstance(callback, partial):
        callback = callback.func
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, DOMNode) or owner.is_attached


def scheduler_state(ws: Workspace) -> str:
    """`on (pid 123)`, `starting` or `off`, judged by the daemon's lock."""
    from peak_tui.daemon import daemon_status

    status = daemon_status(ws)
    if status is None:
        return "off"
    return f"on (pid {status.pid})" if status.ready else "starting"


def start_scheduler(ws: Workspace) -> str:
    """Start `peak-tui serve` for the workspace unless it already runs; returns what happened."""
    from peak_tui.daemon import daemon_status, spawn_daemon

    status = daemon_status(ws)
    if status is not None:
        return f"the scheduler already runs (pid {status.pid}, {status.url})"
    return f"scheduler started (pid {spawn_daemon(ws)}); it runs on after you quit"
