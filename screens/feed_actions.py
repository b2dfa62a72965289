"""The Data Sources actions that change a feed: add/edit (wizard), pause/resume, tags, delete."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from peak_tui.app import PeakApp
    from peak_tui.feeds import FeedSummary


class FeedActions(Screen[None]):
    """Mixin for the feed list: each action works on `selected()` and reports through the app."""

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    # Provided by the list screen that builds on these actions (DataSourcesScreen):
    # `selected()` is the selected feed, `_need()` its name or a hint why there is none.
    selected: Callable[[], FeedSummary | None]
    _need: Callable[[], str | None]

    def action_add(self) -> None:
        """Open the feed wizard for a new feed."""
        from screens.wizard import FeedWizard

        self.app.push_screen(FeedWizard(self.peak.ws, None), self.peak.wizard_done)

    def action_edit(self) -> None:
        """Open the feed wizard on the selected feed."""
        if name := self._need():
            from screens.wizard import FeedWizard

            self.app.push_screen(FeedWizard(self.peak.ws, name), self.peak.wizard_done)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """p reads Pause on an active feed and Resume on a paused one."""
        if action in ("pause", "resume"):
            s = self.selected()
            paused = bool(s and s.paused)
            return paused if action == "resume" else not paused
        return True

    def action_pause(self) -> None:
        """Pause the selected feed's schedule and webhook runs (manual runs still work)."""
        self._set_paused(True)

    def action_resume(self) -> None:
        """Resume the selected feed's schedule and webhook runs."""
        self._set_paused(False)

    def _set_paused(self, pause: bool) -> None:
        s = self.selected()
        if s is None:
            self._need()
            return

        def done(_: object) -> None:
            self.notify(f"{s.name} {'paused' if pause else 'resumed'}", timeout=3)
            self.peak.feeds_changed.publish(s.name)

        self.peak.background(self.peak.ws.feeds.set_paused, s.name, pause, done=done,
                             what=f"{'pausing' if pause else 'resuming'} {s.name}")

    def action_tags(self) -> None:
        """Edit the selected feed's tags."""
        s = self.selected()
        if s is None:
            self._need()
            return
        from screens.tags import TagsScreen

        def save(tags: list[str] | None) -> None:
            if tags is None:
                return
            self.peak.background(self.peak.ws.feeds.set_tags, s.name, tags, what=f"tagging {s.name}",
                                 done=lambda _t: self.peak.feeds_changed.publish(s.name))

        self.app.push_screen(TagsScreen(s.name, s.tags), save)

    def action_delete(self) -> None:
        """Delete the selected feed, after confirmation."""
        name = self._need()
        if name is None:
            return
        if name in self.peak.live:
            self.notify(f"{name} is running; cancel it (x) before deleting it", severity="warning")
            return
        from screens.confirm import ConfirmScreen

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.peak.background(self.peak.ws.feeds.delete, name, what=f"deleting {name}",
                                     done=lambda _r: self._deleted(name))

        self.app.push_screen(ConfirmScreen(
            f"Delete feed {name}?",
            f"The feed {name} and its run history will be deleted. Its table in the warehouse is "
            "kept. This cannot be undone.", confirm_label="Delete", danger=True), confirmed)

    def _deleted(self, name: str) -> None:
        self.notify(f"feed {name} deleted (its warehouse table is kept)", timeout=4)
        self.peak.feeds_changed.publish(None)
