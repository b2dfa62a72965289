"""Warehouse settings: choose the workspace's data warehouse, edit its connection, test it, save it.

Secret fields are never shown: left empty they keep the saved value; typed, they replace it. Test
uses what is on screen (saved or not), so a connection can be tried before it is saved.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Label, Static

from peak_tui.errors import PeakError, ValidationError
from peak_tui.warehouse_rules import FIELDS, KIND_LABELS
from screens.warehouse_form import WarehouseForm

if TYPE_CHECKING:
    from peak_tui.warehouse import Verdict
    from peak_tui.workspace import Workspace


class WarehouseScreen(Screen[str | None]):
    """Edit and test the workspace's warehouse; dismisses with the saved kind (None if unsaved)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="warehouse.save"),
        Binding("ctrl+t", "test", "Test connection", id="warehouse.test"),
        Binding("escape", "close", "Back", id="warehouse.close"),
    ]
    HELP = ("Warehouse: pick the kind, fill in its settings, ctrl+t tests the connection with what is "
            "on screen, ctrl+s saves it and makes it the workspace's warehouse. Empty secret fields "
            "keep their saved value.")
    DEFAULT_CSS = """
    WarehouseScreen #wh-body { padding: 0 1; }
    WarehouseScreen #wh-actions { height: auto; margin-top: 1; }
    WarehouseScreen #wh-actions Button { margin-right: 2; }
    WarehouseScreen #wh-status { margin-top: 1; color: $text-muted; }
    WarehouseScreen #wh-status.-ok { color: $text-success; }
    WarehouseScreen #wh-status.-error { color: $text-error; }
    """

    class Loaded(Message):
        """The saved settings were read."""

        def __init__(self, public: dict[str, Any]) -> None:
            super().__init__()
            self.public = public

    class Saved(Message):
        """Settings were saved; `public` is the new state."""

        def __init__(self, kind: str, public: dict[str, Any]) -> None:
            super().__init__()
            self.kind, self.public = kind, public

    class Tested(Message):
        """A connection test finished."""

        def __init__(self, verdict: Verdict) -> None:
            super().__init__()
            self.verdict = verdict

    class Failed(Message):
        """Loading or saving failed; `field` names the offending setting when known."""

        def __init__(self, message: str, field: str | None = None) -> None:
            super().__init__()
            self.message, self.field = message, field

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.public: dict[str, Any] | None = None
        self.saved_kind: str | None = None
        self.last_verdict: Verdict | None = None
        self._discard_armed = False

    def compose(self) -> ComposeResult:
        """The form, actions, status."""
        with VerticalScroll(id="wh-body"):
            yield Label("Data warehouse", classes="section-title")
            yield WarehouseForm(id="wh-form")
            with Horizontal(id="wh-actions"):
                yield Button("Test connection (ctrl+t)", id="wh-test", compact=True)
                yield Button("Save (ctrl+s)", id="wh-save", variant="primary", compact=True)
            yield Static("Loading the saved settings…", id="wh-status", markup=False)
        yield Footer()

    @property
    def form(self) -> WarehouseForm:
        """The settings form."""
        return self.query_one(WarehouseForm)

    def on_mount(self) -> None:
        """Read the saved settings in the background; the kind has focus."""
        self.query_one("#wh-kind").focus()
        self._load()

    @work(thread=True, exclusive=True, group="warehouse", exit_on_error=False)
    def _load(self) -> None:
        from peak_tui import warehouse

        try:
            self.post_message(self.Loaded(warehouse.public(self.ws)))
        except PeakError as e:
            self.post_message(self.Failed(e.message))

    @property
    def kind(self) -> str:
        """The kind chosen on screen."""
        return self.form.kind

    def values(self) -> dict[str, str]:
        """The chosen kind's settings on screen (empty secrets are left out: they keep the saved)."""
        return self.form.values()

    @on(Loaded)
    def _loaded(self, event: Loaded) -> None:
        self.public = event.public
        self.form.load(event.public)
        self._status(f"Current warehouse: {KIND_LABELS[event.public['kind']]}.")

    def _status(self, text: str, tone: str = "") -> None:
        status = self.query_one("#wh-status", Static)
        status.update(text)
        status.set_class(tone == "ok", "-ok")
        status.set_class(tone == "error", "-error")

    def action_save(self) -> None:
        """Save the chosen kind's settings and make it current."""
        self._discard_armed = False
        self._status("Saving…")
        self._save(self.kind, self.values())

    @work(thread=True, exclusive=True, group="warehouse", exit_on_error=False)
    def _save(self, kind: str, values: dict[str, str]) -> None:
        from peak_tui import warehouse

        try:
            self.post_message(self.Saved(kind, warehouse.save(self.ws, kind, values)))
        except ValidationError as e:
            self.post_message(self.Failed(e.message, e.field))
        except PeakError as e:
            self.post_message(self.Failed(e.message))

    def action_test(self) -> None:
        """Test the connection with the settings on screen."""
        self._discard_armed = False
        self._status(f"Testing the {KIND_LABELS[self.kind]} connection…")
        self._test(self.kind, self.values())

    @work(thread=True, exclusive=True, group="warehouse-test", exit_on_error=False)
    def _test(self, kind: str, values: dict[str, str]) -> None:
        from peak_tui import warehouse

        self.post_message(self.Tested(warehouse.test_connection(self.ws, kind, values)))

    @on(Saved)
    def _saved(self, event: Saved) -> None:
        self.public, self.saved_kind = event.public, event.kind
        self.form.saved(event.kind, event.public)
        note = ""
        if event.public.get("stranded_feeds"):
            note = (" Feeds whose destination it does not offer fail until changed: "
                    + ", ".join(event.public["stranded_feeds"]))
        self._status(f"Saved: the workspace's warehouse is {KIND_LABELS[event.kind]}.{note}", "ok")

    @on(Tested)
    def _tested(self, event: Tested) -> None:
        self.last_verdict = event.verdict
        self._status(event.verdict.line(), "ok" if event.verdict.ok else "error")

    @on(Failed)
    def _failed(self, event: Failed) -> None:
        self._status(event.message, "error")
        key = (event.field or "").rsplit(".", 1)[-1]
        for f in FIELDS.get(self.kind, ()):
            if f.key == key:
                self.form.widget(self.kind, key).focus()

    @on(Button.Pressed, "#wh-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#wh-test")
    def _test_pressed(self) -> None:
        self.action_test()

    def action_close(self) -> None:
        """Back; unsaved edits need a second Escape."""
        if self._dirty() and not self._discard_armed:
            self._discard_armed = True
            self._status("Unsaved changes: Escape again discards them, ctrl+s saves.", "error")
            return
        self.dismiss(self.saved_kind)

    def _dirty(self) -> bool:
        return self.form.dirty(self.public)
