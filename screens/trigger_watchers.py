"""Watchers in stage 5: who hears about a feed's runs (success, failure, runtime exceeded) and how."""
from __future__ import annotations

from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Checkbox, ContentSwitcher, Input, Label, Select, Static

from screens.trigger_rules import watcher_problem
from screens.wizard_form import Field

CHANNELS = [("Email", "email"), ("Webhook", "webhook")]
EVENT_LABELS = {"success": "Success", "failure": "Failure", "runtime_exceeded": "Runtime over"}


class _RemoveWatcher(Button):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "press", "Remove watcher", show=True, id="watchers.remove"),
    ]


class WatcherRow(Vertical):
    """One watcher: events, channel, and the channel's settings."""

    DEFAULT_CSS = """
    WatcherRow { height: auto; border: round $primary 40%; padding: 0 1; margin-bottom: 1; }
    WatcherRow:focus-within { border: round $accent; }
    WatcherRow .events { height: 1; margin-bottom: 1; }
    WatcherRow .events Checkbox { margin-right: 1; }
    WatcherRow .events Input { width: 6; background: $boost; }
    WatcherRow .events Label { color: $text-muted; margin-left: 1; }
    WatcherRow ContentSwitcher { height: auto; }
    WatcherRow .channel-email, WatcherRow .channel-webhook { height: auto; }
    WatcherRow .watcher-error { color: $text-error; display: none; }
    WatcherRow.-error .watcher-error { display: block; }
    WatcherRow .watcher-foot { height: 1; }
    """

    def __init__(self, values: dict[str, Any] | None = None, *, focus: bool = False) -> None:
        super().__init__()
        self.values = values or {"events": ["failure"], "channel": "email", "to": []}
        self._focus = focus

    def on_mount(self) -> None:
        """A row the user just added takes focus."""
        if self._focus:
            self.query_one(Checkbox).focus()

    def compose(self) -> ComposeResult:
        """Events line, channel, channel forms, error and remove button."""
        w = self.values
        events = w.get("events") or []
        with Horizontal(classes="events"):
            for key, label in EVENT_LABELS.items():
                yield Checkbox(label, value=key in events, compact=True, classes=f"ev-{key}")
            yield Input(str(w.get("runtime_minutes") or 60), restrict=r"[0-9]*", max_length=5,
                        compact=True, classes="ev-minutes", tooltip="runtime limit in minutes")
            yield Label("min")
        channel = w.get("channel") if w.get("channel") in ("email", "webhook") else "email"
        yield Field("Channel", Select(CHANNELS, value=channel, allow_blank=False, compact=True,
                                      classes="w-channel"))
        with ContentSwitcher(initial=f"ch-{channel}"):
            with Vertical(classes="channel-email", id="ch-email"):
                to = w.get("to") or []
                yield Field("To", Input(", ".join(to) if isinstance(to, list) else str(to),
                                        placeholder="a@example.com, b@example.com", compact=True,
                                        classes="w-to"))
            with Vertical(classes="channel-webhook", id="ch-webhook"):
                yield Field("Name", Input(w.get("name") or "", placeholder="e.g. ops", compact=True,
                                          classes="w-name"))
                yield Field("URL", Input(w.get("url") or "", placeholder="https://hooks.example.com/…",
                                         compact=True, classes="w-url"))
                yield Field("Payload", Input(w.get("payload") or "", compact=True, classes="w-payload",
                                             placeholder='{"feed": "{feed}", "status": "{status}"}'))
        yield Static("", classes="watcher-error", markup=False)
        with Horizontal(classes="watcher-foot"):
            yield _RemoveWatcher("✕ Remove watcher", compact=True, classes="w-remove")

    def _value(self, cls: str) -> str:
        return self.query_one(f".{cls}", Input).value.strip()

    def get_values(self) -> dict[str, Any]:
        """The watcher dict as the engine stores it (not validated)."""
        if not self.is_mounted:
            return dict(self.values)
        events = [k for k in EVENT_LABELS if self.query_one(f".ev-{k}", Checkbox).value]
        w: dict[str, Any] = {"events": events}
        if "runtime_exceeded" in events:
            raw = self._value("ev-minutes")
            w["runtime_minutes"] = int(raw) if raw.isdigit() else raw
        channel = str(self.query_one(".w-channel", Select).value)
        w["channel"] = channel
        if channel == "email":
            w["to"] = [x.strip() for x in self._value("w-to").split(",") if x.strip()]
        else:
            w["name"], w["url"] = self._value("w-name"), self._value("w-url")
            if self._value("w-payload"):
                w["payload"] = self._value("w-payload")
        return w

    def problem(self, index: int) -> str | None:
        """The engine's watcher rules, plus a JSON check of the payload template."""
        return watcher_problem(index, self.get_values())

    def show_problem(self, message: str | None) -> None:
        """Show or clear the row's error."""
        self.set_class(bool(message), "-error")
        self.query_one(".watcher-error", Static).update(message or "")

    @on(Select.Changed, ".w-channel")
    def _channel(self, event: Select.Changed) -> None:
        self.query_one(ContentSwitcher).current = f"ch-{event.value}"


class WatcherList(Vertical):
    """Rows of watchers with Add; each row is checked with `validate_watcher`."""

    DEFAULT_CSS = """
    WatcherList { height: auto; }
    WatcherList > #watchers-empty { color: $text-muted; }
    WatcherList > #watcher-rows { height: auto; }
    """

    class Changed(Message):
        """A watcher was added, removed or edited."""

    def compose(self) -> ComposeResult:
        """Rows, empty note and the Add button."""
        yield Vertical(id="watcher-rows")
        yield Static("No watchers: nobody is notified about runs.", id="watchers-empty")
        yield Button("+ Add watcher", compact=True, id="watcher-add")

    @property
    def rows(self) -> list[WatcherRow]:
        """The watcher rows, top to bottom."""
        return [r for r in self.query(WatcherRow) if not r._pruning]

    def get_values(self) -> list[dict[str, Any]]:
        """Every watcher."""
        return [r.get_values() for r in self.rows]

    def set_values(self, watchers: list[dict[str, Any]]) -> None:
        """Replace every row."""
        box = self.query_one("#watcher-rows", Vertical)
        box.remove_children()
        box.mount_all([WatcherRow(w) for w in watchers])
        self.query_one("#watchers-empty").display = not watchers

    def add(self) -> WatcherRow:
        """Append a new watcher (failure by email) and focus it."""
        row = WatcherRow(focus=True)
        self.query_one("#watcher-rows", Vertical).mount(row)
        self.query_one("#watchers-empty").display = False
        self.post_message(self.Changed())
        return row

    def problem(self) -> str | None:
        """The first row's broken rule."""
        for i, row in enumerate(self.rows):
            problem = row.problem(i)
            if problem:
                return problem
        return None

    def reveal(self) -> Widget | None:
        """Show every row's error; return the first bad row."""
        first = None
        for i, row in enumerate(self.rows):
            problem = row.problem(i)
            row.show_problem(problem)
            if problem and first is None:
                first = row
        return first

    @on(Button.Pressed, "#watcher-add")
    def _add(self, event: Button.Pressed) -> None:
        event.stop()
        self.add()

    @on(Button.Pressed, ".w-remove")
    def _remove(self, event: Button.Pressed) -> None:
        event.stop()
        row = next(a for a in event.button.ancestors if isinstance(a, WatcherRow))
        row.remove()
        left = [r for r in self.rows if r is not row]
        self.query_one("#watchers-empty").display = not left
        self.call_after_refresh(self.query_one("#watcher-add", Button).focus)
        self.post_message(self.Changed())

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _edited(self, event: Any) -> None:
        row = next((a for a in event.control.ancestors if isinstance(a, WatcherRow)), None)
        if row is not None:
            row.show_problem(row.problem(self.rows.index(row)))
        self.post_message(self.Changed())
