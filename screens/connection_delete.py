"""Deleting a saved connection from stage 1: confirm, delete in a worker, or show the refusal."""
from __future__ import annotations

from typing import Any

from screens import connection_jobs as jobs
from screens.confirm import ConfirmScreen

NEW = "+new"


class ConnectionDeleteMixin:
    """Delete for `ConnectionStage` (which owns the list state and the status line)."""

    # provided by ConnectionStage
    ws: Any
    current: str
    names: dict[str, str] | None
    stored: dict[str, Any]
    drafts: dict[str, Any]
    app: Any
    run_worker: Any
    post_message: Any
    notify: Any
    set_status: Any
    _rebuild: Any

    def ask_delete(self) -> None:
        """Confirm, then delete the highlighted saved connection."""
        name = self.current
        if name == NEW:
            self.set_status("Highlight a saved connection to delete it.", error=True)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(lambda: jobs.delete(self.ws, name, self.post_message),
                                thread=True, group="conn-save", exclusive=True,
                                exit_on_error=False)

        self.app.push_screen(ConfirmScreen("Delete connection?", f"Delete the connection {name}? "
                                           "Feeds that use it must be changed first.",
                                           confirm_label="Delete", danger=True), answered)

    # a named handler: `@on` is not collected from a plain mixin class
    def on_connection_deleted(self, event: jobs.ConnectionDeleted) -> None:
        """Drop the deleted connection from the list."""
        assert self.names is not None
        self.names.pop(event.name, None)
        self.stored.pop(event.name, None)
        self.drafts.pop(event.name, None)
        self.current = NEW
        self._rebuild(NEW)
        self.set_status(f"Deleted connection {event.name}.")
        self.notify(f"Deleted connection {event.name}.", title="Connection")
