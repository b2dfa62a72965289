"""The command palette (ctrl+p): the current screen's actions, plus Run/Test/History/Edit per feed."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from peak_tui.app import PeakApp

Command = tuple[str, str, Callable[[], object]]


class PeakCommands(Provider):
    """Every action shown in the footer, by name, and each feed's actions by feed name."""

    @property
    def peak(self) -> PeakApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def screen_commands(self) -> list[Command]:
        """The screen's (and app's) bindings that have a description, as commands."""
        out: list[Command] = []
        seen: set[str] = set()
        screen = self.screen
        for active in screen.active_bindings.values():
            b = active.binding
            if not b.description or b.action in seen or not active.enabled:
                continue
            seen.add(b.action)
            label = f"{b.description}"
            help_text = f"key {self.app.get_key_display(b)} · {screen.title or type(screen).__name__}"
            out.append((label, help_text, partial(self.app.run_action, b.action, active.node)))
        return out

    def feed_commands(self) -> list[Command]:
        """Run, Test, History and Edit for every feed the list last loaded."""
        app = self.peak
        out: list[Command] = []
        for name in app.feed_names:
            out.append((f"Run feed {name}", "load records and commit metadata", partial(app.start_run, name)))
            out.append((f"Test feed {name}", "preview records; nothing is loaded",
                        partial(app.start_test, name)))
            out.append((f"History of feed {name}", "runs, logs and metadata",
                        partial(self._history, name)))
            out.append((f"Edit feed {name}", "open the feed wizard", partial(self._edit, name)))
        return out

    def _history(self, name: str) -> None:
        from screens.run_history import RunHistoryScreen

        self.app.push_screen(RunHistoryScreen(name))

    def _edit(self, name: str) -> None:
        from screens.wizard import FeedWizard

        self.app.push_screen(FeedWizard(self.peak.ws, name),
                             self.peak.wizard_done)

    async def discover(self) -> Hits:
        """With nothing typed: the actions of the current screen."""
        for label, help_text, callback in self.screen_commands():
            yield DiscoveryHit(label, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Fuzzy-match screen actions and per-feed actions."""
        matcher = self.matcher(query)
        for label, help_text, callback in self.screen_commands() + self.feed_commands():
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback, help=help_text)
