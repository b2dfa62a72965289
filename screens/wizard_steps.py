"""The wizard's step indicator: '1 Connection › 2 Import configuration › …', clickable."""
from __future__ import annotations

from rich.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

STAGE_IDS = ("stage-connection", "stage-import", "stage-load", "stage-destination", "stage-trigger")
LONG = ("Connection", "Import configuration", "Load & name", "Destination", "Trigger & watchers")
SHORT = ("Connection", "Import", "Name", "Destination", "Trigger")


class StepIndicator(Static):
    """'1 Connection › 2 Import configuration › …'; click a step to go there."""

    DEFAULT_CSS = """
    StepIndicator { height: 1; padding: 0 1; background: $boost; link-style: none;
                    link-style-hover: underline; link-background-hover: $boost; }
    """

    step: reactive[int] = reactive(0)
    valid: reactive[tuple[bool, ...]] = reactive((False,) * 5)

    def render(self) -> str:
        """Full labels when they fit; short ones for the other steps when they do not."""
        full = " › ".join(f"{i + 1} {t}" for i, t in enumerate(LONG))
        labels = LONG if len(full) + 2 <= self.size.width else \
            tuple(LONG[i] if i == self.step else SHORT[i] for i in range(5))
        parts = []
        for i, label in enumerate(labels):
            mark = "✓" if self.valid[i] and i != self.step else str(i + 1)
            text = escape(f"{mark} {label}")
            style = "bold reverse" if i == self.step else ("" if self.valid[i] else "dim")
            parts.append(f"[@click=screen.goto({i})][{style}]{text}[/][/]" if style else
                         f"[@click=screen.goto({i})]{text}[/]")
        return " › ".join(parts)
