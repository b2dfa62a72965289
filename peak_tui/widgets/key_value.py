"""An editor of name/value rows (request headers): add and remove rows by keyboard or mouse."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Static

from peak_tui.errors import PeakError


class _ValueInput(Input):
    """The value input of a row: Enter adds a new row below."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "submit", "Add row", show=True, id="key_value.add_row"),
    ]


class _RemoveButton(Button):
    """A row's remove button; Enter or a click removes the row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "press", "Remove row", show=True, id="key_value.remove_row"),
    ]


class KeyValueRow(Horizontal):
    """One name/value pair; the value is masked when the editor holds secrets."""

    DEFAULT_CSS = """
    KeyValueRow { height: 1; margin-bottom: 1; }
    KeyValueRow > Input { width: 1fr; margin-right: 1; background: $boost; }
    KeyValueRow > Input:focus { background: $primary 30%; }
    KeyValueRow > Input.-invalid { background: $error 25%; }
    KeyValueRow > Button { width: 5; min-width: 5; }
    """

    def __init__(self, key: str = "", value: str = "", *, secret: bool = True,
                 key_placeholder: str = "name", value_placeholder: str = "value",
                 focus: bool = False) -> None:
        super().__init__()
        self._key, self._value, self._secret = key, value, secret
        self._placeholders = (key_placeholder, value_placeholder)
        self._focus = focus

    def on_mount(self) -> None:
        """A row the user just added takes focus."""
        if self._focus:
            self.query_one(".kv-key", Input).focus()

    def compose(self) -> ComposeResult:
        """Name input, value input, remove button."""
        yield Input(self._key, placeholder=self._placeholders[0], compact=True, classes="kv-key")
        yield _ValueInput(self._value, placeholder=self._placeholders[1], password=self._secret,
                          compact=True, classes="kv-value")
        yield _RemoveButton("✕", compact=True, classes="kv-remove", tooltip="Remove this row")

    @property
    def pair(self) -> tuple[str, str]:
        """(name, value) as typed (name stripped)."""
        if not self.is_mounted:
            return (self._key.strip(), self._value)
        return (self.query_one(".kv-key", Input).value.strip(),
                self.query_one(".kv-value", Input).value)


class KeyValueEditor(Vertical):
    """Rows of name/value pairs with an Add button; `problem()` names the first bad row."""

    DEFAULT_CSS = """
    KeyValueEditor { height: auto; }
    KeyValueEditor > #kv-rows { height: auto; }
    KeyValueEditor > #kv-empty { color: $text-muted; }
    KeyValueEditor > #kv-add { margin-bottom: 1; }
    """

    class Changed(Message):
        """A row was added, removed or edited."""

        def __init__(self, editor: KeyValueEditor) -> None:
            super().__init__()
            self.editor = editor

        @property
        def control(self) -> KeyValueEditor:
            """The editor that changed."""
            return self.editor

    def __init__(self, *, key_rule: Callable[[str], Any] | None = None, secret: bool = True,
                 noun: str = "header", field: str = "connection.headers", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.key_rule = key_rule
        self.field = field
        self.secret = secret
        self.noun = noun

    def compose(self) -> ComposeResult:
        """The rows and the Add button."""
        yield Vertical(id="kv-rows")
        yield Static(f"No {self.noun}s.", id="kv-empty")
        yield Button(f"+ Add {self.noun}", compact=True, id="kv-add")

    def _new_row(self, key: str = "", value: str = "", focus: bool = False) -> KeyValueRow:
        return KeyValueRow(key, value, secret=self.secret, key_placeholder=f"{self.noun} name",
                           focus=focus)

    @property
    def rows(self) -> list[KeyValueRow]:
        """The row widgets, top to bottom."""
        return [r for r in self.query(KeyValueRow) if not r._pruning]

    def get_pairs(self) -> list[tuple[str, str]]:
        """Every row that is not completely empty."""
        return [r.pair for r in self.rows if r.pair != ("", "")]

    def set_pairs(self, pairs: list[tuple[str, str]] | dict[str, str]) -> None:
        """Replace all rows."""
        items = list(pairs.items()) if isinstance(pairs, dict) else list(pairs)
        box = self.query_one("#kv-rows", Vertical)
        box.remove_children()
        box.mount_all([self._new_row(k, v) for k, v in items])
        self._sync_empty(len(items))

    def add_row(self, focus: bool = True) -> KeyValueRow:
        """Append an empty row (and focus its name)."""
        row = self._new_row(focus=focus)
        self.query_one("#kv-rows", Vertical).mount(row)
        self._sync_empty(len(self.rows) + 1)
        self.post_message(self.Changed(self))
        return row

    def _sync_empty(self, count: int) -> None:
        self.query_one("#kv-empty", Static).display = count == 0

    def problem(self) -> str | None:
        """The first broken rule: a bad or repeated name, or a value without a name."""
        seen: set[str] = set()
        for name, _value in self.get_pairs():
            if not name:
                return f"{self.field}: a {self.noun} with a value needs a name"
            if self.key_rule is not None:
                try:
                    self.key_rule(name)
                except PeakError as e:
                    return str(e)
            if name.lower() in seen:
                return f"{self.field}: the {self.noun} {name!r} appears twice"
            seen.add(name.lower())
        return None

    @on(Button.Pressed, "#kv-add")
    def _add_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.add_row()

    @on(Button.Pressed, ".kv-remove")
    def _remove_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        row = next(a for a in event.button.ancestors if isinstance(a, KeyValueRow))
        rows = self.rows
        index = rows.index(row)
        row.remove()
        self._sync_empty(len(rows) - 1)
        rest = [r for r in rows if r is not row]
        target = rest[min(index, len(rest) - 1)].query_one(".kv-key", Input) if rest else \
            self.query_one("#kv-add", Button)
        self.call_after_refresh(target.focus)
        self.post_message(self.Changed(self))

    @on(Input.Submitted, ".kv-value")
    def _value_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.add_row()

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if "kv-key" in event.input.classes and self.key_rule is not None:
            bad = bool(event.value.strip()) and _fails(self.key_rule, event.value.strip())
            event.input.set_class(bad, "-invalid")
        event.stop()
        self.post_message(self.Changed(self))


def _fails(rule: Callable[[str], Any], value: str) -> bool:
    try:
        rule(value)
    except PeakError:
        return True
    return False
