"""Stage 5, Trigger and watchers: schedule (basic or cron), webhook, or run once; then who is told."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, ContentSwitcher, Input, Label, Select, Static

from peak_tui import schedule
from peak_tui.errors import PeakError
from peak_tui.widgets.cron_field import CronField
from screens.trigger_rules import once_problem, stage_problem
from screens.trigger_schedule import ScheduleForm
from screens.trigger_watchers import WatcherList
from screens.wizard_form import Field, Stage, compact_input, rule_problem

TRIGGERS = [("Schedule", "schedule"), ("Webhook", "webhook"), ("Run once", "once")]
ONCE_KINDS = [("Manually, when you press Run", "manual"), ("Once, at a date-time", "at")]


class TriggerStage(Stage):
    """What starts the feed and who hears about its runs."""

    HELP = """
    Trigger & watchers: a schedule (Basic: days and a time, or every N minutes/hours; Advanced: a
    Quartz cron read back in plain English with the next run times), a webhook, or run once
    (manually, or at a date-time). Watchers tell people about successes, failures or long runs by
    email or webhook: '+ Add watcher' adds one, Enter on 'Remove watcher' removes it.
    """

    step_title = "Trigger & watchers"

    DEFAULT_CSS = """
    TriggerStage ContentSwitcher { height: auto; }
    TriggerStage #trig-webhook, TriggerStage #trig-once { height: auto; }
    TriggerStage .note { color: $text-muted; margin-bottom: 1; }
    TriggerStage #once-past { color: $text-warning; padding-left: 16; display: none; }
    TriggerStage #once-past.-shown { display: block; }
    """

    def __init__(self, *, now: Callable[[], datetime] | None = None, id: str | None = None) -> None:
        super().__init__(lazy=True, id=id)
        self.now = now or (lambda: datetime.now(UTC))
        self.workspace_tz = "UTC"

    def compose_form(self) -> ComposeResult:
        """Trigger type, the type's form, then watchers."""
        yield Static("What starts a run, and who is told how runs went.", classes="stage-intro")
        yield Label("Trigger", classes="section-title")
        yield Field("Type", Select(TRIGGERS, value="once", allow_blank=False, compact=True,
                                   id="trig-type"))
        with ContentSwitcher(initial="trig-once", id="trig-switch"):
            yield ScheduleForm(now=self.now, id="trig-schedule")
            with Vertical(id="trig-webhook"):
                yield Checkbox("Require an HMAC signature (X-Peak-Signature)", compact=True,
                               id="webhook-hmac")
                yield Static("A POST to the feed's webhook URL starts a run. The URL and token "
                             "appear on Data Sources once the feed is saved.", classes="note")
            with Vertical(id="trig-once"):
                yield Field("Run", Select(ONCE_KINDS, value="manual", allow_blank=False,
                                          compact=True, id="once-kind"))
                yield Field("At", compact_input("once-at", placeholder="2026-12-01T09:30"),
                            hint="Wall time in the time zone below (or add an offset like +01:00).",
                            id="once-at-field")
                yield Field("Time zone", compact_input("once-tz", placeholder="UTC"),
                            hint="Empty uses the workspace's zone.", id="once-tz-field")
                yield Static("", id="once-past", markup=False)
        yield Label("Watchers", classes="section-title")
        yield WatcherList(id="watchers")

    def after_build(self) -> None:
        """Apply the workspace's zone and show the right sub-form."""
        self.set_workspace_timezone(self.workspace_tz)

    def set_workspace_timezone(self, tz: str) -> None:
        """The zone empty time-zone fields stand for (read by the wizard's loader)."""
        self.workspace_tz = tz
        if not self.built:
            return
        form = self.query_one(ScheduleForm)
        form.workspace_tz = tz
        self.query_one("#once-tz", Input).placeholder = tz
        form.sync()
        self._sync()

    # values -----------------------------------------------------------------------------------
    def defaults(self) -> dict[str, Any]:
        """A new feed runs only when asked and tells no one."""
        return {"trigger": {"type": "manual"}, "watchers": []}

    @property
    def kind(self) -> str:
        """schedule, webhook or once (once covers manual)."""
        return str(self.query_one("#trig-type", Select).value)

    def get_trigger(self) -> dict[str, Any]:
        """The trigger dict the engine stores."""
        if not self.built:
            return dict(self.stored_values()["trigger"])
        if self.kind == "schedule":
            return self.query_one(ScheduleForm).get_trigger()
        if self.kind == "webhook":
            return {"type": "webhook", "hmac": self.query_one("#webhook-hmac", Checkbox).value}
        if self.query_one("#once-kind", Select).value == "manual":
            return {"type": "manual"}
        t = {"type": "once", "at": self.query_one("#once-at", Input).value.strip()}
        tz = self.query_one("#once-tz", Input).value.strip()
        return {**t, "timezone": tz} if tz else t

    def form_values(self) -> dict[str, Any]:
        """Trigger and watchers."""
        return {"trigger": self.get_trigger(), "watchers": self.query_one(WatcherList).get_values()}

    def set_form_values(self, values: dict[str, Any]) -> None:
        """Fill from a feed."""
        t = dict(values.get("trigger") or {"type": "manual"})
        kind = t.get("type", "manual")
        self.query_one("#trig-type", Select).value = "once" if kind == "manual" else kind
        if kind == "schedule":
            self.query_one(ScheduleForm).set_trigger(t)
        elif kind == "webhook":
            self.query_one("#webhook-hmac", Checkbox).value = bool(t.get("hmac"))
        elif kind in ("once", "manual"):
            self.query_one("#once-kind", Select).value = "at" if kind == "once" else "manual"
            self.query_one("#once-at", Input).value = str(t.get("at") or "")
            self.query_one("#once-tz", Input).value = str(t.get("timezone") or "")
        self.query_one(WatcherList).set_values(list(values.get("watchers") or []))
        self._sync()

    def values_problem(self, values: dict[str, Any]) -> str | None:
        """The trigger's rules, then each watcher's."""
        return stage_problem(values)

    # inline errors ----------------------------------------------------------------------------
    def _once_errors(self) -> dict[str, str]:
        if self.kind != "once" or self.query_one("#once-kind", Select).value != "at":
            return {}
        out = {}
        tz = self.query_one("#once-tz", Input).value.strip()
        if tz and (msg := rule_problem(schedule.validate_timezone, tz)):
            out["once-tz-field"] = msg
        if msg := once_problem(self.query_one("#once-at", Input).value.strip()):
            out["once-at-field"] = msg
        return out

    def reveal_problems(self) -> Widget | None:
        """Show every error; return the first bad widget."""
        if not self.built:
            return None
        first = None
        if self.kind == "schedule":
            form = self.query_one(ScheduleForm)
            first = form.reveal()
            if first is None and form.mode == "cron" and self.query_one(CronField).problem():
                first = self.query_one("#cron-input")
        once = self._once_errors()
        for key in ("once-at-field", "once-tz-field"):
            field = self.query_one(f"#{key}", Field)
            field.set_error(once.get(key))
            if key in once and first is None:
                first = field.widget
        watcher = self.query_one(WatcherList).reveal()
        return first or watcher

    def _sync(self) -> None:
        self.query_one("#trig-switch", ContentSwitcher).current = f"trig-{self.kind}"
        at_kind = self.query_one("#once-kind", Select).value == "at"
        for fid in ("once-at-field", "once-tz-field"):
            self.query_one(f"#{fid}").display = at_kind
        past = ""
        t = self.get_trigger()
        if t.get("type") == "once" and not self._once_errors():
            when = _instant(t["at"], t.get("timezone") or self.workspace_tz)
            if when is not None and when <= self.now():
                past = "This time has passed: the feed will not run unless you change it."
        note = self.query_one("#once-past", Static)
        note.update(past)
        note.set_class(bool(past), "-shown")

    @on(Select.Changed)
    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(CronField.Changed)
    @on(WatcherList.Changed)
    def _changed(self, event: Any) -> None:
        self._sync()
        wid = getattr(getattr(event, "control", None), "id", "") or ""
        if wid in ("once-at", "once-tz"):
            self.query_one(f"#{wid}-field", Field).set_error(self._once_errors().get(f"{wid}-field"))
        self.changed()


def _instant(at: str, tz: str) -> datetime | None:
    """A once date-time as an aware instant (naive means wall time in `tz`)."""
    try:
        when = datetime.fromisoformat(at)
        return when if when.tzinfo else when.replace(tzinfo=ZoneInfo(schedule.validate_timezone(tz)))
    except (ValueError, PeakError):
        return None
