"""A tiny host App for the feed wizard's Pilot tests, and helpers to wait and type."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from peak_tui.workspace import Workspace
from screens.trigger import TriggerStage
from screens.wizard import FeedWizard

FIXED_NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday


class WizardHost(App[None]):
    """Pushes one FeedWizard and records what it dismissed with."""

    def __init__(self, ws: Workspace, feed_name: str | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.feed_name = feed_name
        self.results: list[str | None] = []

    def on_mount(self) -> None:
        """Open the wizard, as the shell does."""
        self.push_screen(FeedWizard(self.ws, self.feed_name), self.results.append)


def freeze_clock(monkeypatch: Any) -> None:
    """Make the trigger stage's 'now' (next run times, past-time warning) fixed."""
    original = TriggerStage.__init__

    def init(self: TriggerStage, *args: Any, **kwargs: Any) -> None:
        kwargs["now"] = lambda: FIXED_NOW
        original(self, *args, **kwargs)

    monkeypatch.setattr(TriggerStage, "__init__", init)


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], Any], timeout: float = 10.0,
                   what: str = "condition") -> None:
    """Poll (letting the app run) until the predicate holds, or fail after the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.02)


async def opened(pilot: Pilot[Any]) -> FeedWizard:
    """The wizard, once it has read the workspace and settled."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, FeedWizard)
                   and pilot.app.screen._snapshot is not None, what="the wizard to load")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, FeedWizard)
    return screen


async def type_into(pilot: Pilot[Any], widget: Input, text: str, *, clear: bool = True) -> None:
    """Focus an input and type text key by key (so validation runs as the user types)."""
    widget.focus()
    if clear:
        widget.value = ""
    await pilot.pause()
    await pilot.press(*list(text))
    await pilot.pause()


async def fill(pilot: Pilot[Any], widget: Input, text: str) -> None:
    """Set an input's value at once (paste-like); validation runs as for typing."""
    widget.focus()
    widget.value = text
    await pilot.pause()


async def goto_stage(pilot: Pilot[Any], wizard: FeedWizard, index: int) -> None:
    """Show a stage directly (tests of one stage need not fill the ones before it)."""
    wizard.step = index
    await wait_for(pilot, lambda: wizard.shown_step == index, what=f"stage {index + 1}")
    await pilot.pause()
