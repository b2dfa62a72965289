"""Edit a feed's tags as chips: type a tag and Enter adds it; Delete removes the focused chip."""
from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from peak_tui.errors import ValidationError
from peak_tui.validation import tag as validate_tag


class TagChip(Static, can_focus=True):
    """One tag; Delete or Backspace removes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete,backspace,x", "remove", "Remove tag", id="tags.remove"),
    ]
    HELP = "A tag chip: Delete, Backspace or x removes it; Tab moves to the next chip."

    def __init__(self, tag: str) -> None:
        super().__init__(f"{tag} ×", classes="tag-chip", markup=False)
        self.tag = tag

    def action_remove(self) -> None:
        """Remove this tag from the editor."""
        screen = self.screen
        if isinstance(screen, TagsScreen):
            screen.remove_tag(self.tag)


class TagsScreen(ModalScreen[list[str] | None]):
    """A chips editor for one feed's tags; dismisses with the new list, or None to cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="tags.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="tags.cancel"),
    ]
    HELP = (
        "Tags: type a tag (letters and digits) and press Enter to add it; Backspace in "
        "the empty box removes the last chip; Tab to a chip and press Delete to remove it. ctrl+s "
        "(or Enter on the empty box) saves; Escape cancels. Filter the feed list with tag:NAME."
    )

    def __init__(self, feed: str, tags: list[str]) -> None:
        super().__init__()
        self.feed = feed
        self.tags = list(tags)

    def compose(self) -> ComposeResult:
        """Chips, the new-tag box, an error line and the buttons."""
        with Vertical(classes="dialog tags-dialog"):
            yield Label(f"Tags of {self.feed}", classes="dialog-title")
            yield Horizontal(id="tag-chips")
            yield Input(placeholder="new tag, then Enter (empty Enter saves)", id="tag-input")
            yield Static("", id="tag-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Save (ctrl+s)", id="tags-save", variant="primary")
                yield Button("Cancel (Esc)", id="tags-cancel")

    def on_mount(self) -> None:
        """Show the current tags."""
        self._render_chips()
        self.query_one("#tag-input", Input).focus()

    def _render_chips(self) -> None:
        box = self.query_one("#tag-chips", Horizontal)
        box.remove_children()
        box.mount_all([TagChip(t) for t in self.tags] or [Static("no tags", classes="tag-none")])

    def _error(self, text: str) -> None:
        self.query_one("#tag-error", Static).update(text)

    def add_tag(self, text: str) -> bool:
        """Add a tag after checking the product's rule; shows the rule when it is broken."""
        try:
            clean = validate_tag(text.strip())
        except ValidationError as e:
            self._error(str(e))
            return False
        if clean not in self.tags:
            self.tags.append(clean)
            self._render_chips()
        self._error("")
        return True

    def remove_tag(self, tag: str) -> None:
        """Remove a tag."""
        if tag in self.tags:
            self.tags.remove(tag)
            self._render_chips()
            self.query_one("#tag-input", Input).focus()

    @on(Input.Submitted, "#tag-input")
    def _submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.action_save()
        elif self.add_tag(event.value):
            event.input.value = ""

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        """Backspace in the empty box removes the last tag."""
        box = self.query_one("#tag-input", Input)
        if event.key == "backspace" and self.focused is box and not box.value and self.tags:
            event.stop()
            self.remove_tag(self.tags[-1])

    @on(Button.Pressed, "#tags-save")
    def action_save(self) -> None:
        """Save the tags (a tag still typed in the box is added first)."""
        pending = self.query_one("#tag-input", Input).value
        if pending.strip() and not self.add_tag(pending):
            return
        self.dismiss(self.tags)

    @on(Button.Pressed, "#tags-cancel")
    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
