"""Building blocks the feed wizard's stages share: engine-backed validators, labelled fields, the stage base."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.compose import compose
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from peak_tui.errors import PeakError

Rule = Callable[[str], Any]


def rule_problem(rule: Rule, value: Any) -> str | None:
    """Run one engine rule; return its user message (as the CLI prints it) or None when it passes."""
    try:
        rule(value)
    except PeakError as e:
        return str(e)
    return None


class EngineValidator(Validator):
    """A Textual `Validator` that calls an engine rule, so the TUI and the CLI say the same words."""

    def __init__(self, rule: Rule) -> None:
        super().__init__()
        self.rule = rule

    def validate(self, value: str) -> ValidationResult:
        """Pass when the engine rule accepts the value."""
        problem = rule_problem(self.rule, value)
        return self.success() if problem is None else self.failure(problem)


class Field(Vertical):
    """A label, one input-like widget, an optional hint and an inline error line.

    The `Field:focus-within` rule on the field itself matters: Textual restyles, on a focus change,
    the outermost ancestor that has a focus-within rule, so the label's rule alone would never apply.
    """

    DEFAULT_CSS = """
    Field { height: auto; margin-bottom: 1; }
    Field > .field-row { height: auto; }
    Field .field-label { width: 16; padding-right: 1; color: $text-muted; }
    Field:focus-within { background: $boost; }
    Field:focus-within .field-label { color: $accent; text-style: bold; }
    Field .field-row > Input { width: 1fr; }
    Field .field-row > Select { width: 1fr; max-width: 44; }
    Field .field-hint { color: $text-muted; padding-left: 16; }
    Field .field-error { color: $text-error; padding-left: 16; display: none; }
    Field.-error .field-error { display: block; }
    Field Input.-textual-compact { background: $boost; }
    Field Input.-textual-compact:focus { background: $primary 30%; }
    Field Input.-textual-compact:disabled { background: transparent; color: $text-muted; }
    """

    def __init__(self, label: str, widget: Widget, *, hint: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.label = label
        self.widget = widget
        self.hint = hint

    def compose(self) -> ComposeResult:
        """Label and widget on one row; hint and error below."""
        with Horizontal(classes="field-row"):
            yield Label(self.label, classes="field-label")
            yield self.widget
        if self.hint:
            yield Static(self.hint, classes="field-hint", markup=False)
        yield Static("", classes="field-error", markup=False)

    @property
    def error(self) -> str | None:
        """The error shown now, if any."""
        return self._error if self.has_class("-error") else None

    _error: str = ""

    def set_error(self, message: str | None) -> None:
        """Show or clear the inline error."""
        if (message or "") == self._error and self.has_class("-error") == bool(message):
            return
        self._error = message or ""
        self.set_class(bool(message), "-error")
        if self.is_mounted:
            self.query_one(".field-error", Static).update(self._error)


def field_of(widget: Widget) -> Field | None:
    """The `Field` holding a widget, if any."""
    for node in widget.ancestors:
        if isinstance(node, Field):
            return node
    return None


def compact_input(id: str, *, placeholder: str = "", rule: Rule | None = None, password: bool = False,
                  value: str = "", **kwargs: Any) -> Input:
    """A one-line input, validated as you type by an engine rule."""
    return Input(value=value, placeholder=placeholder, id=id, password=password, compact=True,
                 validators=[EngineValidator(rule)] if rule else None, validate_on=["changed"],
                 **kwargs)


class Stage(VerticalScroll):
    """One wizard stage: a small form with `get_values()` / `set_values()` and `problem()`.

    A lazy stage composes its widgets the first time it is shown (`build()`); until then it keeps
    the values it was given and checks them with the same pure rules, so the wizard opens fast.
    """

    DEFAULT_CSS = """
    Stage { height: 1fr; padding: 0 1; scrollbar-size-vertical: 1; }
    Stage .stage-intro { color: $text-muted; margin-bottom: 1; }
    Stage .section-title { text-style: bold; color: $accent; margin-top: 1; }
    """

    step_title: ClassVar[str] = ""

    class Changed(Message):
        """Something in a stage changed that may change whether it is valid."""

    def __init__(self, *, lazy: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.built = not lazy
        self.pending: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        """The form, once the stage is built."""
        if self.built:
            yield from self.compose_form()

    async def build(self) -> None:
        """Compose the form (first show) and fill it with the values kept so far."""
        if self.built:
            return
        self.built = True
        await self.mount_all(compose(self))
        self.set_form_values(self.stored_values())
        self.after_build()

    def after_build(self) -> None:
        """Hook: anything to do once the widgets exist."""

    # subclasses -------------------------------------------------------------------------------
    # Every stage defines these (ConnectionStage replaces compose/get_values/set_values instead):
    # compose_form() yields the stage's widgets; form_values() reads them; set_form_values(values)
    # fills them; values_problem(values) is the first rule the values break, pure, so it works
    # before the form exists.
    compose_form: Callable[[], ComposeResult]
    form_values: Callable[[], dict[str, Any]]
    set_form_values: Callable[[dict[str, Any]], None]
    values_problem: Callable[[dict[str, Any]], str | None]

    def defaults(self) -> dict[str, Any]:
        """Values of a new feed."""
        return {}

    # the wizard's API -------------------------------------------------------------------------
    def get_values(self) -> dict[str, Any]:
        """The stage's part of the feed."""
        return self.form_values() if self.built else self.stored_values()

    def stored_values(self) -> dict[str, Any]:
        """The values kept for the form: its own keys, from `set_values` or the defaults."""
        return {key: self.pending.get(key, default) for key, default in self.defaults().items()}

    def set_values(self, values: dict[str, Any]) -> None:
        """Fill the form from a feed's values (kept until the form exists)."""
        if self.built:
            self.set_form_values(values)
        else:
            self.pending.update(values)

    def problem(self) -> str | None:
        """The first rule the stage breaks, worded as the engine words it; None when valid."""
        return self.values_problem(self.get_values())

    def reveal_problems(self) -> Widget | None:
        """Show every inline error (after a refused Next) and return the widget to focus."""
        return None

    def changed(self) -> None:
        """Tell the wizard to re-check validity."""
        self.post_message(self.Changed())
