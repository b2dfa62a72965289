"""F1: what the focused widget is for, and every key that works right now."""
from __future__ import annotations

import inspect
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Label, Static

GENERIC = {
    "DataTable": "A table: arrow keys, PgUp/PgDn, Home/End move the cursor; Enter opens the row.",
    "Input": "A text box: type to edit; Enter confirms; ctrl+a/ctrl+e go to the start/end.",
    "Button": "A button: Enter or Space presses it.",
    "Tabs": "Tabs: left and right switch between them.",
}


def help_for(widget: Widget | None, screen: Screen[object]) -> str:
    """The most specific help text: the widget's, then its containers', then the screen's."""
    texts: list[str] = []
    node: DOMNode | None = widget
    while node is not None:
        text = getattr(type(node), "HELP", None)
        if text and text not in texts:
            texts.append(inspect.cleandoc(text))
        elif not texts and type(node).__name__ in GENERIC:
            texts.append(GENERIC[type(node).__name__])
        if node is screen:
            break
        node = node.parent
    screen_help = getattr(type(screen), "HELP", None)
    if screen_help and inspect.cleandoc(screen_help) not in texts:
        texts.append(inspect.cleandoc(screen_help))
    return "\n\n".join(texts) or "No help for this part of the screen; the keys below all work here."


def keys_table(screen: Screen[object]) -> Table:
    """Every key binding active on `screen` now (the focused widget's first), with its description."""
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold cyan", no_wrap=True)
    table.add_column()
    seen: set[tuple[str, str]] = set()
    for active in screen.active_bindings.values():
        b = active.binding
        if not b.description or (b.action, b.description) in seen:
            continue
        seen.add((b.action, b.description))
        table.add_row(screen.app.get_key_display(b), Text(b.description + ("" if active.enabled
                                                                            else " (not now)")))
    table.add_row("ctrl+p", "Command palette: search every action")
    table.add_row("ctrl+q", "Quit")
    return table


class HelpScreen(ModalScreen[None]):
    """Help for the focused widget (F1); Escape or F1 closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close help", id="help.close"),
    ]

    def __init__(self, focused: Widget | None, screen: Screen[object]) -> None:
        super().__init__()
        self.about = type(focused).__name__ if focused is not None else type(screen).__name__
        self.text = help_for(focused, screen)
        self.keys = keys_table(screen)

    def compose(self) -> ComposeResult:
        """Title, help text, keys."""
        with Vertical(classes="dialog help-dialog"):
            yield Label(f"Help · {self.about}", classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.text, classes="help-text", markup=False)
                yield Label("Keys here", classes="help-keys-title")
                yield Static(self.keys, classes="help-keys")

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
