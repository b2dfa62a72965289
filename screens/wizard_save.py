"""Saving and leaving the feed wizard: build the Feed, save it in a worker, confirm before discarding."""
from __future__ import annotations

from typing import Any

from textual.message import Message

from peak_tui.errors import PeakError
from screens.confirm import ConfirmScreen
from screens.connection_jobs import problem_text
from screens.wizard_data import build_feed, stage_of


class FeedSaved(Message):
    """The feed was saved."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class FeedSaveFailed(Message):
    """The engine refused the feed; `message` names the field and the rule."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class WizardSaveMixin:
    """Save and Close for `FeedWizard` (which owns the stages, `busy` and the status line)."""

    # provided by FeedWizard
    ws: Any
    feed_name: str | None
    original: Any
    busy: bool
    step: int
    _snapshot: dict[str, Any] | None
    stages: Any
    values: Any
    set_status: Any
    notify: Any
    dismiss: Any
    app: Any
    run_worker: Any
    post_message: Any
    _refuse_if_invalid: Any
    call_after_refresh: Any

    def action_close(self) -> None:
        """Back out; ask first when something changed."""
        conn = self.stages[0]
        if self._snapshot is None or (self.values() == self._snapshot and not conn.unsaved):
            self.dismiss(None)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Discard changes?", "This feed has unsaved changes. "
                                           "Leave the wizard and lose them?",
                                           confirm_label="Discard", danger=True), answered)

    def action_save(self) -> None:
        """Build the Feed and save it in a worker; success dismisses with its name."""
        for i in range(5):
            if not self._refuse_if_invalid(i):
                return
        if self.stages[0].needs_save:  # type: ignore[attr-defined]
            self.step = 0
            self.set_status("Save the connection first (Next or ctrl+s).", error=True)
            return
        try:
            feed = build_feed(self.values(), self.original)
        except PeakError as e:
            self._save_failed(str(e))
            return
        create = self.feed_name is None
        self.busy = True
        self.set_status("Saving…")

        def job() -> None:
            try:
                saved = self.ws.feeds.save(feed, create=create)
            except Exception as e:  # the engine's message, or the fault's: never a silent hang
                self.post_message(FeedSaveFailed(problem_text(e)))
                return
            self.post_message(FeedSaved(saved.name))

        self.run_worker(job, thread=True, group="wizard-save", exclusive=True, exit_on_error=False)

    # named handlers: `@on` is not collected from a plain mixin class
    def on_feed_saved(self, event: FeedSaved) -> None:
        """Saved: leave with the feed's name (the shell selects it)."""
        self.busy = False
        self.notify(f"Saved feed {event.name}.", title="Feed")
        self.dismiss(event.name)

    def on_feed_save_failed(self, event: FeedSaveFailed) -> None:
        """Not saved: show the engine's message on the stage that owns the field."""
        self.busy = False
        self._save_failed(event.message)

    def _save_failed(self, message: str) -> None:
        stage = stage_of(message)
        if stage is not None:
            self.step = stage
        self.call_after_refresh(lambda: self.set_status(f"Not saved: {message}", error=True))
        self.notify(message, title="Feed not saved", severity="error")
