"""Moving between the feed wizard's stages: Next refuses (and says why) while a stage is invalid."""
from __future__ import annotations

from functools import partial
from typing import Any

from textual import events
from textual.widgets import ContentSwitcher

from screens.connection import ConnectionStage
from screens.wizard_steps import LONG, STAGE_IDS, StepIndicator

# keys that act at once even while a stage is being shown: leaving, quitting, help
PASS_THROUGH = frozenset({"escape", "ctrl+q", "ctrl+c", "f1", "ctrl+p"})


class WizardNavMixin:
    """Next, Back, jumps and refusals for `FeedWizard` (which owns `step` and the stages)."""

    _held_keys: list[events.Key] | None = None

    # provided by FeedWizard
    step: int
    shown_step: int
    loaded: bool
    _reveal_on_show: bool
    stages: Any
    focused: Any
    query_one: Any
    set_status: Any
    notify: Any
    call_later: Any
    call_after_refresh: Any
    set_timer: Any
    set_focus: Any
    app: Any
    _sync_nav: Any
    _revalidate: Any

    def watch_step(self, step: int) -> None:
        """Show the stage (building it the first time)."""
        self.query_one(StepIndicator).step = step
        self.set_status("")
        self._sync_nav()
        # until the new stage has the focus, keys typed are held, then replayed into it: a stage
        # builds in a frame or more, and meanwhile they would act on the stage being left
        self._held_keys = []
        self.set_focus(None)
        self.call_later(self._show_stage, step)

    def on_key(self, event: events.Key) -> None:
        """Hold what is typed while a stage is being shown (see `watch_step`)."""
        if self._held_keys is not None and event.key not in PASS_THROUGH:
            self._held_keys.append(event)
            event.stop()
            event.prevent_default()

    def _release_keys(self, tries: int = 150) -> None:
        # replay once the stage has the focus (focus() lands a message later) and the wizard has
        # read the workspace (loading it fills the forms: what was typed before would be reset)
        if (self.focused is None or not self.loaded) and tries:
            self.set_timer(0.02, partial(self._release_keys, tries - 1))
            return
        held, self._held_keys = self._held_keys, None
        for key in held or []:
            # sent as the terminal's keys are (from the App), so they bubble back up to it: the
            # App checks key bindings (Enter submits, Tab moves on) as a key bubbles up
            self.app.post_message(events.Key(key.key, key.character).set_sender(self.app))

    async def _show_stage(self, step: int) -> None:
        stage = self.stages[step]
        await stage.build()
        if self.step != step:
            return
        self.query_one("#stages", ContentSwitcher).current = STAGE_IDS[step]
        self.shown_step = step
        self._revalidate()
        target = stage.reveal_problems() if self._reveal_on_show else None
        self._reveal_on_show = False
        if target is not None:
            self.call_after_refresh(target.focus)
        else:
            self.call_after_refresh(self._focus_stage)
        self.call_after_refresh(self._release_keys)  # after the focus moved

    def _focus_stage(self) -> None:
        stage = self.stages[self.step]
        if self.focused is not None and stage in self.focused.ancestors:
            return
        target = next((w for w in stage.query("*") if w.focusable), None)
        if target is not None:
            target.focus()

    def action_next(self) -> None:
        """Go to the next stage; stage 1 first saves a new or changed connection."""
        if self.step >= 4:
            return
        if not self._refuse_if_invalid(self.step):
            return
        conn = self.stages[0]
        if self.step == 0 and isinstance(conn, ConnectionStage) and conn.needs_save:
            conn.save(advance=True)
            return
        self.step += 1

    def action_back(self) -> None:
        """Go to the previous stage (nothing is lost)."""
        if self.step > 0:
            self.step -= 1

    def action_goto(self, index: int) -> None:
        """Jump to a stage; forward only past valid stages."""
        for i in range(min(index, 5)):
            if not self._refuse_if_invalid(i):
                return
        if index > 0 and self.stages[0].needs_save:  # type: ignore[attr-defined]
            self.step = 0
            self.set_status("Save the connection first (Next or ctrl+s).", error=True)
            return
        self.step = max(0, min(index, 4))

    def action_explain(self, what: str) -> None:
        """Say why Next or Save is refused, and point at the field."""
        if what == "next":
            self._refuse_if_invalid(self.step)
            return
        for i in range(5):
            if not self._refuse_if_invalid(i):
                return

    def _refuse_if_invalid(self, index: int) -> bool:
        problem = self.stages[index].problem() if self.loaded else "still loading the workspace"
        if problem is None:
            return True
        if index != self.step:
            self._reveal_on_show = True
            self.step = index
        else:
            target = self.stages[index].reveal_problems()
            if target is not None:
                self.call_after_refresh(target.focus)
        self.set_status(f"Can't go on: {problem}", error=True)
        self.notify(problem, title=f"{LONG[index]} needs attention", severity="warning")
        return False
