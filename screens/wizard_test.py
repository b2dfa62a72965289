"""The wizard's Test actions: build an unsaved Feed from the stages and hand it to stage 2's test runner."""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from peak_tui.execution import prewarm
from peak_tui.models import Feed
from screens.import_config import ImportStage
from screens.wizard_data import build_feed

if TYPE_CHECKING:
    from screens.connection import ConnectionStage

PLACEHOLDER_NAME = "new_feed"


class WizardTestMixin:
    """Test, Cancel test and Refresh logs for `FeedWizard` (which owns `testing` and the stages)."""

    testing: bool
    feed_name: str | None
    original: Feed | None

    def test_feed(self) -> Feed | str:
        """The unsaved feed to test, or why it cannot be tested yet."""
        stages: list[Any] = self.stages  # type: ignore[attr-defined]
        conn: ConnectionStage = stages[0]
        imp: ImportStage = stages[1]
        if conn.names is None:
            return "still loading the workspace"
        if conn.needs_save or not conn.get_values()["connection"]:
            return "connection: pick or save a connection on stage 1 first (Next saves it)"
        if imp.built and imp.deps.pending and not imp.deps.add(imp.deps.pending):
            return imp.deps.error or "dependencies: fix the pending dependency first"
        values = self.values()  # type: ignore[attr-defined]
        if stages[2].problem() is not None:
            values["name"] = self.feed_name or PLACEHOLDER_NAME
        if stages[3].problem() is not None:
            values["destination"] = {"type": "local"}
        values["trigger"], values["watchers"] = {"type": "manual"}, []
        return build_feed(values, self.original)

    def action_test(self) -> None:
        """Run the script now with the current metadata; nothing is loaded."""
        stage: ImportStage = self.stages[1]  # type: ignore[attr-defined]
        if not stage.built:
            return
        feed = self.test_feed()
        if isinstance(feed, str):
            stage.set_status(f"Can't test: {feed}")
            self.notify(feed, title="Can't test yet", severity="warning")  # type: ignore[attr-defined]
            return
        stage.start_test(self.ws, feed)  # type: ignore[attr-defined]

    def action_cancel_test(self) -> None:
        """Stop a running test (the engine kills the script's process tree)."""
        self.stages[1].cancel_test()  # type: ignore[attr-defined]

    def action_refresh_logs(self) -> None:
        """Paint queued log lines now and follow the end of the log."""
        self.stages[1].refresh_logs()  # type: ignore[attr-defined]

    def on_dependency_chips_changed(self) -> None:
        """New dependencies: have a warm interpreter for them if their environment is built."""
        ws = self.ws  # type: ignore[attr-defined]
        deps = list(self.stages[1].deps.values)  # type: ignore[attr-defined]
        self.run_worker(partial(prewarm, ws, deps), thread=True, group="prewarm",  # type: ignore[attr-defined]
                        exclusive=True, exit_on_error=False)

    # named handlers: `@on` is not collected from a plain mixin class
    def on_import_stage_test_started(self, event: ImportStage.TestStarted) -> None:
        """A test began: Cancel test becomes available."""
        self.testing = True

    def on_import_stage_test_finished(self, event: ImportStage.TestFinished) -> None:
        """A test ended."""
        self.testing = False
