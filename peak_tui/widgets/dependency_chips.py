"""A dependency field: typed pip requirements become chips on Tab or Enter; chips remove with Delete."""
from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Vertical
from textual.message import Message
from textual.widgets import Input, Static

from peak_tui.environments import validate_requirement
from peak_tui.errors import PeakError

CHIP_WIDTH = 26


class Chip(Static, can_focus=True):
    """One requirement; Delete/Backspace (or a click) removes it."""

    DEFAULT_CSS = """
    Chip { width: 1fr; height: 1; margin: 0 1 1 0; padding: 0 1; background: $primary 35%;
           text-wrap: nowrap; text-overflow: ellipsis; }
    Chip:focus { background: $accent; color: $text; text-style: bold; }
    Chip:hover { background: $primary 60%; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace", "remove_chip", "Remove dependency", id="chips.remove"),
    ]

    class RemoveRequested(Message):
        """The user asked to remove this chip."""

        def __init__(self, chip: Chip) -> None:
            super().__init__()
            self.chip = chip

    def __init__(self, requirement: str) -> None:
        super().__init__(f"{requirement} ✕", markup=False)
        self.requirement = requirement
        self.tooltip = f"{requirement}: Delete or click removes it"

    def action_remove_chip(self) -> None:
        """Remove this chip."""
        self.post_message(self.RemoveRequested(self))

    def on_click(self, event: events.Click) -> None:
        """A click removes the chip."""
        event.stop()
        self.action_remove_chip()


class ChipInput(Input):
    """The text box: Tab or Enter turns its text into a chip (Tab moves on when it is empty)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "add_chip", "Add dependency", id="chips.add"),
    ]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Tab adds only when there is text; otherwise it moves focus as usual."""
        if action == "add_chip":
            return bool(self.value.strip())
        return True

    def action_add_chip(self) -> None:
        """Ask the parent field to add the text as a chip."""
        self.post_message(self.Submitted(self, self.value))


class DependencyChips(Vertical):
    """Pip requirements as chips, each validated by the engine's `validate_requirement`."""

    DEFAULT_CSS = """
    DependencyChips { height: auto; }
    DependencyChips > ChipInput { width: 1fr; background: $boost; }
    DependencyChips > ChipInput:focus { background: $primary 30%; }
    DependencyChips > #chips-error { color: $text-error; display: none; }
    DependencyChips.-error > #chips-error { display: block; }
    DependencyChips > #chips { layout: grid; grid-size: 3; grid-gutter: 0; grid-rows: 2; height: auto; }
    DependencyChips > #chips.-some { margin-top: 1; }
    DependencyChips > #chips-base { color: $text-muted; }
    """

    class Changed(Message):
        """Chips were added or removed, or the pending text changed."""

        def __init__(self, chips: DependencyChips) -> None:
            super().__init__()
            self.chips = chips

        @property
        def control(self) -> DependencyChips:
            """The field that changed."""
            return self.chips

    def __init__(self, values: list[str] | None = None, *,
                 validate: Callable[[str], str] = validate_requirement,
                 placeholder: str = "a pip requirement, e.g. pandas>=2.0 (Enter or Tab adds it)",
                 base: str = "requests is always installed.", id: str | None = None) -> None:
        super().__init__(id=id)
        self._values = list(values or [])
        self.rule = validate
        self.placeholder = placeholder
        self.base = base
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        """Input, inline error, chips, and a note on what is always there."""
        yield ChipInput(placeholder=self.placeholder, compact=True, id="chips-input")
        yield Static("", id="chips-error", markup=False)
        yield Container(*[Chip(r) for r in self._values], id="chips")
        yield Static(self.base, id="chips-base", markup=False)

    def _sync_box(self) -> None:
        self.query_one("#chips").set_class(bool(self._values), "-some")

    def on_mount(self) -> None:
        """Space the chips only when there are some."""
        self._sync_box()

    def on_resize(self, event: events.Resize) -> None:
        """Wrap chips into as many columns as fit."""
        self.query_one("#chips").styles.grid_size_columns = max(1, event.size.width // CHIP_WIDTH)

    @property
    def values(self) -> list[str]:
        """The requirements, in the order added."""
        return list(self._values)

    @property
    def pending(self) -> str:
        """Text typed but not yet turned into a chip."""
        return self.query_one(ChipInput).value.strip()

    def set_values(self, values: list[str]) -> None:
        """Replace every chip."""
        box = self.query_one("#chips")
        self._values = list(values)
        box.remove_children()
        box.mount_all([Chip(r) for r in values])
        self._sync_box()
        self.query_one(ChipInput).value = ""
        self.set_error(None)

    def add(self, text: str) -> bool:
        """Validate and add one requirement; shows the rule it breaks and returns False if invalid."""
        try:
            req = self.rule(text)
        except PeakError as e:
            self.set_error(str(e))
            return False
        names = {_name(r) for r in self.values}
        if _name(req) in names:
            self.set_error(f"dependencies: {_name(req)} is already listed; remove it first to change it")
            return False
        self._values.append(req)
        self.query_one("#chips").mount(Chip(req))
        self._sync_box()
        self.query_one(ChipInput).value = ""
        self.set_error(None)
        self.post_message(self.Changed(self))
        return True

    def set_error(self, message: str | None) -> None:
        """Show or clear the inline error."""
        self.error = message
        self.set_class(bool(message), "-error")
        self.query_one("#chips-error", Static).update(message or "")

    @on(Input.Submitted, "#chips-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self.add(event.value)

    @on(Input.Changed, "#chips-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if self.error:
            self.set_error(None)
        self.post_message(self.Changed(self))

    @on(Chip.RemoveRequested)
    def _remove(self, event: Chip.RemoveRequested) -> None:
        event.stop()
        chips = list(self.query(Chip))
        index = chips.index(event.chip)
        event.chip.remove()
        self._values.remove(event.chip.requirement)
        self._sync_box()
        rest = [c for c in chips if c is not event.chip]
        target = rest[min(index, len(rest) - 1)] if rest else self.query_one(ChipInput)
        self.call_after_refresh(target.focus)
        self.post_message(self.Changed(self))


def _name(requirement: str) -> str:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return canonicalize_name(Requirement(requirement).name)
