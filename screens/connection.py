"""Stage 1, Connection: pick a saved connection or make a new one; edit or delete saved ones."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Input, Label, OptionList, Select, Static, TextArea
from textual.widgets.option_list import Option

from peak_tui.widgets.key_value import KeyValueEditor
from screens import connection_jobs as jobs
from screens.connection_delete import NEW, ConnectionDeleteMixin
from screens.connection_form import EMPTY, ConnectionForm
from screens.wizard_form import Stage

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

SHORT_AUTH = {"none": "", "basic": "basic", "custom": "custom"}


class ConnectionStage(ConnectionDeleteMixin, Stage):
    """Choose the connection the feed uses; saving or deleting runs in a thread worker."""

    HELP = """
    Connection: highlight a saved connection in the list (Up/Down) or '+ New connection' and fill in
    the form. Name and auth type are fixed once a connection is saved; the other fields stay
    editable. ctrl+s saves the connection, Next saves it too. Delete (on the list) deletes the
    highlighted connection unless feeds use it. Passwords and header values are masked.
    """

    step_title = "Connection"

    DEFAULT_CSS = """
    ConnectionStage #conn-columns { height: auto; }
    ConnectionStage #conn-side { width: 26; height: auto; margin-right: 2; }
    ConnectionStage #conn-side .section-title { margin-top: 0; }
    ConnectionStage #conn-list { height: auto; max-height: 14; }
    ConnectionStage #conn-main { width: 1fr; height: auto; }
    ConnectionStage #conn-actions { height: 1; margin-bottom: 1; }
    ConnectionStage #conn-actions Button { margin-right: 2; }
    ConnectionStage #conn-status { color: $text-muted; }
    ConnectionStage #conn-status.-error { color: $text-error; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save_connection", "Save connection", id="wizard.save_connection"),
    ]

    def __init__(self, ws: Workspace, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ws = ws
        self.names: dict[str, str] | None = None  # name -> auth type, once loaded
        self.current = NEW
        self.stored: dict[str, dict[str, Any]] = {}  # values as saved, per connection
        self.drafts: dict[str, dict[str, Any]] = {}  # unsaved edits, per list entry
        self.busy = False
        self._wanted: str | None = None
        self._was_dirty = False

    def compose(self) -> ComposeResult:
        """The list on the left, the form on the right."""
        yield Static("Pick the connection this feed calls its API with, or make a new one. "
                     "Next saves a new or changed connection.", classes="stage-intro")
        with Horizontal(id="conn-columns"):
            with Vertical(id="conn-side"):
                yield Label("Connections", classes="section-title")
                yield jobs.ConnectionList(id="conn-list")
            with Vertical(id="conn-main"):
                yield ConnectionForm(taken=self._taken, id="conn-form")
                with Horizontal(id="conn-actions"):
                    yield Button("Save connection", id="conn-save", compact=True)
                    yield Button("Delete", id="conn-delete", compact=True, variant="error")
                yield Static("", id="conn-status", markup=False)

    @property
    def form(self) -> ConnectionForm:
        """The connection form."""
        return self.query_one(ConnectionForm)

    def _taken(self, name: str) -> bool:
        return self.names is not None and name in self.names

    # wizard API -------------------------------------------------------------------------------
    def load(self, names: dict[str, str]) -> None:
        """Fill the list with the workspace's connections (read by the wizard's loader)."""
        self.names = dict(names)
        self._rebuild(self._wanted or (next(iter(names)) if names else NEW))

    def get_values(self) -> dict[str, Any]:
        """The connection the feed will use."""
        name = self.current if self.current != NEW else self.form.get_values()["name"]
        return {"connection": name}

    def set_values(self, values: dict[str, Any]) -> None:
        """Highlight the feed's connection."""
        self._wanted = values.get("connection") or None
        if self.names is not None and self._wanted:
            self._rebuild(self._wanted)

    def problem(self) -> str | None:
        """Valid when a saved connection is chosen, or the form holds a valid one to save."""
        if self.names is None:
            return "connection: still loading the workspace's connections"
        if self.current == NEW and not self.form.get_values()["name"]:
            return "connection: pick one from the list, or name a new one"
        if self.current == NEW or self.dirty:
            return self.form.problem()
        return None

    def reveal_problems(self) -> Widget | None:
        """Show the form's errors."""
        return self.form.reveal_problems() if self.needs_save else None

    @property
    def dirty(self) -> bool:
        """Whether the form differs from what is saved for the highlighted entry."""
        if self.current == NEW:
            return self.form.get_values() != EMPTY
        stored = self.stored.get(self.current)
        return stored is not None and self.form.get_values() != stored

    @property
    def unsaved(self) -> bool:
        """Edits to a saved connection, here or in a draft (a new one counts once named)."""
        return bool(self.drafts) or (self.dirty and self.current != NEW)

    @property
    def needs_save(self) -> bool:
        """Whether Next must save the form before moving on."""
        return self.current == NEW or self.dirty

    # list -------------------------------------------------------------------------------------
    def _rebuild(self, highlight: str) -> None:
        assert self.names is not None
        olist = self.query_one(jobs.ConnectionList)
        olist.clear_options()
        olist.add_option(Option("+ New connection", id=NEW))
        for name, auth in self.names.items():
            olist.add_option(Option(f"{name} [dim]{SHORT_AUTH.get(auth, auth)}[/]", id=name))
        keys = [NEW, *self.names]
        olist.highlighted = keys.index(highlight) if highlight in keys else 0
        self._switch(keys[olist.highlighted or 0])

    @on(OptionList.OptionHighlighted, "#conn-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        key = event.option.id or NEW
        if key != self.current:
            self._switch(key)

    def _switch(self, key: str) -> None:
        if self.dirty:
            self.drafts[self.current] = self.form.get_values()
        else:
            self.drafts.pop(self.current, None)
        self.current = key
        self.set_status("")
        self.query_one("#conn-delete", Button).display = key != NEW
        self._was_dirty = self.dirty
        self.query_one("#conn-save", Button).display = self._was_dirty
        if key in self.drafts:
            self.form.set_values(self.drafts[key], saved=key != NEW)
        elif key == NEW:
            self.form.set_values(EMPTY, saved=False)
        else:
            self.form.set_values({"name": key, "auth_type": (self.names or {}).get(key, "none")},
                                 saved=True)
            if key in self.stored:
                self.form.set_values(self.stored[key], saved=True)
            else:
                self.run_worker(lambda: jobs.fetch(self.ws, key, self.post_message), thread=True,
                                group="conn-fetch", exclusive=True, exit_on_error=False)
        self.changed()

    @on(jobs.ConnectionFetched)
    def _fetched(self, event: jobs.ConnectionFetched) -> None:
        self.stored[event.name] = event.values
        if self.current == event.name and event.name not in self.drafts:
            self.form.set_values(event.values, saved=True)
            self.changed()

    @on(Input.Changed)
    @on(TextArea.Changed)
    @on(Select.Changed)
    @on(KeyValueEditor.Changed)
    def _form_edited(self, event: Message) -> None:
        self.changed()
        dirty = self.dirty
        if dirty != self._was_dirty:  # Save connection appears or goes (footer and button)
            self._was_dirty = dirty
            self.query_one("#conn-save", Button).display = dirty
            self.refresh_bindings()

    # save / delete ----------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Save connection only when there is something to save (else ctrl+s saves the feed)."""
        if action == "save_connection":
            return self.names is not None and self.dirty and not self.busy
        return True

    def action_save_connection(self) -> None:
        """Save the form as a connection."""
        self.save(advance=False)

    def save(self, *, advance: bool) -> bool:
        """Validate and save in a worker; posts Saved or Failed. False when the form is invalid."""
        if self.busy:
            return False
        problem = self.form.problem()
        if problem:
            self.form.reveal_problems()
            self.set_status(problem, error=True)
            return False
        conn = self.form.to_connection()
        values = self.form.get_values()
        is_new = self.current == NEW
        self.busy = True
        self.set_status("Saving connection…")

        self.run_worker(lambda: jobs.save(self.ws, conn, is_new=is_new, values=values,
                                          advance=advance, post=self.post_message),
                        thread=True, group="conn-save", exclusive=True, exit_on_error=False)
        return True

    @on(jobs.ConnectionSaved)
    def _saved(self, event: jobs.ConnectionSaved) -> None:
        self.busy = False
        assert self.names is not None
        self.drafts.pop(self.current, None)
        self.names[event.name] = event.values["auth_type"]
        self.names = dict(sorted(self.names.items()))
        self.stored[event.name] = event.values
        self.current = event.name
        self._rebuild(event.name)
        self.set_status(f"Saved connection {event.name}.")
        self.refresh_bindings()

    @on(jobs.ConnectionFailed)
    def _failed(self, event: jobs.ConnectionFailed) -> None:
        self.busy = False
        self.set_status(event.message, error=True)
        self.notify(event.message, title="Connection", severity="error")
        self.refresh_bindings()

    @on(Button.Pressed, "#conn-save")
    def _save_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.save(advance=False)

    @on(Button.Pressed, "#conn-delete")
    @on(jobs.ConnectionList.DeleteRequested)
    def _delete_asked(self, event: Message) -> None:
        event.stop()
        self.ask_delete()

    def set_status(self, text: str, *, error: bool = False) -> None:
        """The line under the form buttons."""
        status = self.query_one("#conn-status", Static)
        status.update(text)
        status.set_class(error, "-error")
