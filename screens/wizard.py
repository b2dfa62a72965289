"""The feed wizard: five stages from connection to trigger; Next refuses while a stage is invalid."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Button, ContentSwitcher, Footer, Static

from peak_tui.execution import prewarm
from screens.connection import ConnectionStage
from screens.connection_jobs import ConnectionSaved, problem_text
from screens.destination import DestinationStage
from screens.import_config import ImportStage
from screens.load_settings import LoadStage
from screens.trigger import TriggerStage
from screens.wizard_data import WizardData, read_wizard_data
from screens.wizard_form import Stage
from screens.wizard_nav import WizardNavMixin
from screens.wizard_save import WizardSaveMixin
from screens.wizard_steps import STAGE_IDS, StepIndicator
from screens.wizard_test import WizardTestMixin

if TYPE_CHECKING:
    from peak_tui.models import Feed
    from peak_tui.workspace import Workspace

class FeedWizard(WizardNavMixin, WizardSaveMixin, WizardTestMixin, Screen[str | None]):
    """New or edit feed; dismisses with the saved feed's name, or None when the user backs out."""

    HELP = """
    Feed wizard: five stages from the connection to the trigger. ctrl+n goes to the next stage (it
    says what to fix when the stage is not valid yet), ctrl+g goes back, ctrl+s saves the feed once
    every stage is valid, Escape leaves (asking first if something changed). Tab and Shift+Tab move
    between fields; click a step in the step line to jump back to it.
    """

    DEFAULT_CSS = """
    FeedWizard #wizard-title { height: 1; padding: 0 1; background: $primary 40%; text-style: bold; }
    FeedWizard #stages { height: 1fr; }
    FeedWizard #wizard-status { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    FeedWizard #wizard-status.-error { color: $text-error; }
    FeedWizard #wizard-nav { height: 1; padding: 0 1; align-horizontal: right; }
    FeedWizard #wizard-nav Button { margin-left: 2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="wizard.close"),
        Binding("ctrl+g", "back", "Back", id="wizard.back"),
        Binding("ctrl+n", "next", "Next", id="wizard.next"),
        Binding("ctrl+n", "explain('next')", "Why not next", show=False),
        Binding("ctrl+s", "save", "Save feed", id="wizard.save"),
        Binding("ctrl+s", "explain('save')", "Why not save", show=False),
        Binding("ctrl+t", "test", "Test", id="wizard.test"),
        Binding("ctrl+o", "cancel_test", "Cancel test", id="wizard.cancel_test"),
        Binding("ctrl+r", "refresh_logs", "Refresh logs", id="wizard.refresh_logs"),
    ]

    step: reactive[int] = reactive(0, bindings=True)
    validity: reactive[tuple[bool, ...]] = reactive((False,) * 5, bindings=True)
    busy: reactive[bool] = reactive(False, bindings=True)
    testing: reactive[bool] = reactive(False, bindings=True)

    class _Loaded(Message):
        def __init__(self, data: WizardData | None, error: str | None = None) -> None:
            super().__init__()
            self.data, self.error = data, error

    def __init__(self, ws: Workspace, feed_name: str | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.feed_name = feed_name
        self.original: Feed | None = None
        self.loaded = False
        self._snapshot: dict[str, Any] | None = None
        self.problems: tuple[str | None, ...] = ("still loading the workspace",) * 5
        self.shown_step = 0
        self._reveal_on_show = False

    def compose(self) -> ComposeResult:
        """Title, steps, the stages, status line, buttons, footer."""
        title = f"Edit feed {self.feed_name}" if self.feed_name else "New feed"
        yield Static(title, id="wizard-title", markup=False)
        yield StepIndicator(id="wizard-steps")
        with ContentSwitcher(initial=STAGE_IDS[0], id="stages"):
            yield ConnectionStage(self.ws, id=STAGE_IDS[0])
            yield ImportStage(id=STAGE_IDS[1])
            yield LoadStage(editing=self.feed_name, id=STAGE_IDS[2])
            yield DestinationStage(id=STAGE_IDS[3])
            yield TriggerStage(id=STAGE_IDS[4])
        yield Static("Loading…", id="wizard-status", markup=False)
        with Horizontal(id="wizard-nav"):
            yield Button("‹ Back", id="nav-back", compact=True)
            yield Button("Next ›", id="nav-next", compact=True, variant="primary")
            yield Button("Save feed", id="nav-save", compact=True, variant="success")
        yield Footer(compact=True)

    @property
    def stages(self) -> list[Stage]:
        """The five stages, in order."""
        return [self.query_one(f"#{sid}", Stage) for sid in STAGE_IDS]

    # loading ----------------------------------------------------------------------------------
    def on_mount(self) -> None:
        """Read the workspace in a worker; the form fills when it returns."""
        self._sync_nav()

        def job() -> None:
            try:
                data = read_wizard_data(self.ws, self.feed_name)
            except Exception as e:  # never a silent hang: the wizard says why and closes
                self.post_message(self._Loaded(None, problem_text(e)))
                return
            self.post_message(self._Loaded(data))
            # the first Test of this feed starts warm (a no-op unless the app keeps spares)
            prewarm(self.ws, data.feed.dependencies if data.feed else [])

        self.run_worker(job, thread=True, group="wizard-load", exit_on_error=False)

    @on(_Loaded)
    def _loaded(self, event: _Loaded) -> None:
        if event.data is None:
            self.notify(event.error or "could not read the workspace", title="Feed", severity="error")
            self.dismiss(None)
            return
        data = event.data
        self.query_one(ConnectionStage).load(data.connections)
        self.query_one(LoadStage).taken = set(data.feeds)
        self.query_one(DestinationStage).load(data.warehouse, data.offered)
        self.query_one(TriggerStage).set_workspace_timezone(data.timezone)
        if data.feed is not None:
            self.original = feed = data.feed
            values = feed.to_dict()
            for stage in self.stages:
                stage.set_values(values)
        self.loaded = True
        self.set_status("")
        self.call_after_refresh(self._settled)

    def _settled(self) -> None:
        self._revalidate()
        self._snapshot = self.values()
        self._focus_stage()

    def values(self) -> dict[str, Any]:
        """Every stage's values merged (what Save would build the feed from)."""
        out: dict[str, Any] = {}
        for stage in self.stages:
            out.update(stage.get_values())
        return out

    # validity ---------------------------------------------------------------------------------
    @on(Stage.Changed)
    @on(ConnectionSaved)
    def _stage_changed(self, event: Message) -> None:
        self._revalidate()
        if isinstance(event, ConnectionSaved) and event.advance and self.step == 0:
            self.action_next()

    def _revalidate(self) -> None:
        if not self.loaded:
            return
        self.problems = tuple(s.problem() for s in self.stages)
        validity = tuple(p is None for p in self.problems)
        if validity == self.validity:
            return
        self.validity = validity  # only a change of validity refreshes bindings and the steps
        self.query_one(StepIndicator).valid = validity
        status = self.query_one("#wizard-status", Static)
        if status.has_class("-error") and validity[self.step]:
            self.set_status("")
        self._sync_nav()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Next while the stage is valid, Save while all are; test actions on stage 2."""
        stage_ok = self.loaded and self.validity[self.step] and not self.busy
        all_ok = self.loaded and all(self.validity) and not self.busy
        if action == "next":
            return False if self.step == 4 else (True if stage_ok else None)
        if action == "back":
            return self.step > 0
        if action == "save":
            return True if all_ok else (None if self.step == 4 else False)
        if action == "explain":
            if self.busy:
                return False
            return not all_ok if parameters == ("save",) else self.step < 4 and not stage_ok
        if action == "test":
            return self.step == 1 and not self.testing
        if action == "refresh_logs":
            return self.step == 1 and self.stages[1].has_class("-tested")
        if action == "cancel_test":
            return self.testing
        return True

    def _sync_nav(self) -> None:
        self.query_one("#nav-back", Button).disabled = self.step == 0
        self.query_one("#nav-next", Button).display = self.step < 4
        self.query_one("#nav-save", Button).display = self.step == 4 or (self.loaded and
                                                                         all(self.validity))

    def set_status(self, text: str, *, error: bool = False) -> None:
        """The line above the buttons."""
        status = self.query_one("#wizard-status", Static)
        status.update(text)
        status.set_class(error, "-error")

    @on(Button.Pressed, "#nav-back")
    def _back_pressed(self) -> None:
        self.action_back()

    @on(Button.Pressed, "#nav-next")
    def _next_pressed(self) -> None:
        self.action_next()

    @on(Button.Pressed, "#test-run")
    def _test_pressed(self) -> None:
        self.action_test()

    @on(Button.Pressed, "#nav-save")
    def _save_pressed(self) -> None:
        self.action_save()
