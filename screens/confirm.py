"""Reusable modals: a yes/no confirmation and a readable error or message (never a traceback)."""
from __future__ import annotations

import traceback
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from peak_tui.errors import Conflict, NotFound, PeakError, ValidationError


def describe_failure(error: BaseException | None, what: str, log: Path) -> tuple[str, str, bool]:
    """(title, message, short) for a failed job; a bug's traceback goes to `log`, never the UI."""
    if isinstance(error, PeakError):
        return error.title, error.message, isinstance(error, (Conflict, NotFound, ValidationError))
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(f"--- while {what}\n")
            f.write("".join(traceback.format_exception(error)) if error else "no exception\n")
    except OSError:
        pass
    return ("Something went wrong", f"peak-tui hit an internal error while {what}:\n"
            f"{type(error).__name__}: {error}\n\nThe details were written to {log}.", False)


class ConfirmScreen(ModalScreen[bool]):
    """Ask before doing something that cannot be undone; dismisses with True to go ahead."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes", id="confirm.yes"),
        Binding("n,escape", "cancel", "No", id="confirm.no"),
    ]
    HELP = "Confirm: `y` (or the highlighted button with Enter) goes ahead; `n` or Escape cancels."

    def __init__(self, title: str, message: str, *, confirm_label: str = "Yes",
                 danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        """Title, message and two buttons; the safe one has focus."""
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.confirm_label} (y)", id="confirm-yes",
                             variant="error" if self.danger else "primary")
                yield Button("Cancel (n)", id="confirm-no")

    def on_mount(self) -> None:
        """Focus Cancel so a stray Enter does nothing harmful."""
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Either button dismisses."""
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm(self) -> None:
        """Go ahead."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Back out."""
        self.dismiss(False)


class MessageScreen(ModalScreen[None]):
    """A titled message, e.g. why a job failed; Escape or Enter closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter,q", "close", "Close", id="message.close"),
        Binding("c", "copy", "Copy", id="message.copy"),
    ]
    HELP = "Message: Enter or Escape closes it; `c` copies the text to your clipboard (OSC 52)."

    def __init__(self, title: str, message: str, *, details: str | None = None,
                 severity: str = "error") -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.details = details
        self.severity = severity

    def compose(self) -> ComposeResult:
        """Title, message and optional details in a scroll area."""
        with Vertical(classes=f"dialog -{self.severity}"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(self.message, classes="dialog-body", markup=False)
                if self.details:
                    yield Static(self.details, classes="dialog-details", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close (Enter)", id="message-close", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Close."""
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_copy(self) -> None:
        """Copy the message (and details) to the clipboard."""
        text = self.message + (f"\n\n{self.details}" if self.details else "")
        self.app.copy_to_clipboard(text)
        self.notify("copied to the clipboard", timeout=2)
