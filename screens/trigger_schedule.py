"""The schedule part of stage 5: Basic (days at a time, or every N minutes/hours) or Advanced (cron)."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Checkbox, ContentSwitcher, Input, Select, Static

from peak_tui import schedule
from peak_tui.errors import PeakError, ValidationError
from peak_tui.widgets.cron_field import CronField
from screens.wizard_form import Field, compact_input

MODES = [("Basic", "basic"), ("Advanced (cron)", "cron")]
KINDS = [("On days, at a time", "days"), ("Every N minutes or hours", "every")]
UNITS = [("minutes", "minutes"), ("hours", "hours")]


class ScheduleForm(Vertical):
    """Edits a schedule trigger; `problems()` maps each broken rule to the field showing it."""

    DEFAULT_CSS = """
    ScheduleForm { height: auto; }
    ScheduleForm ContentSwitcher { height: auto; }
    ScheduleForm #days { height: 1; }
    ScheduleForm #days Checkbox { margin-right: 1; }
    ScheduleForm #every-row { height: 1; }
    ScheduleForm #every-row Input { width: 8; background: $boost; }
    ScheduleForm #every-row Select { width: 14; margin-left: 1; }
    ScheduleForm #basic-reading { color: $text-success; padding-left: 16; margin-bottom: 1; }
    ScheduleForm #basic-days, ScheduleForm #basic-every { height: auto; }
    """

    def __init__(self, *, now: Callable[[], datetime] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.now = now
        self.workspace_tz = "UTC"

    def compose(self) -> ComposeResult:
        """Mode, the basic or cron editor, and the time zone."""
        yield Field("Schedule", Select(MODES, value="basic", allow_blank=False, compact=True,
                                       id="sched-mode"))
        with ContentSwitcher(initial="sched-basic", id="sched-switch"):
            with Vertical(id="sched-basic"):
                yield Field("Runs", Select(KINDS, value="days", allow_blank=False, compact=True,
                                           id="basic-kind"))
                with ContentSwitcher(initial="basic-days", id="basic-switch"):
                    with Vertical(id="basic-days"):
                        yield Field("Days", Horizontal(
                            *[Checkbox(d.title(), value=d in schedule.WEEKDAYS[:5], compact=True,
                                       id=f"day-{d}") for d in schedule.WEEKDAYS], id="days"),
                            id="days-field")
                        yield Field("Time", compact_input("basic-time", value="09:00",
                                                          placeholder="HH:MM, 24-hour"),
                                    id="time-field")
                    with Vertical(id="basic-every"):
                        yield Field("Every", Horizontal(
                            Input("15", restrict=r"[0-9]*", max_length=3, compact=True,
                                  id="every-n"),
                            Select(UNITS, value="minutes", allow_blank=False, compact=True,
                                   id="every-unit"), id="every-row"), id="every-field")
                yield Static("", id="basic-reading", markup=False)
            with Vertical(id="sched-cron"):
                yield Field("Cron", CronField("0 0 6 * * ?", now=self.now, id="cron"),
                            id="cron-field")
        yield Field("Time zone", compact_input("sched-tz", placeholder="UTC"),
                    hint="IANA name like Europe/London; empty uses the workspace's zone.",
                    id="tz-field")

    # values -----------------------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """basic or cron."""
        return str(self.query_one("#sched-mode", Select).value)

    @property
    def kind(self) -> str:
        """days or every."""
        return str(self.query_one("#basic-kind", Select).value)

    def basic_dict(self) -> dict[str, Any]:
        """The basic schedule as the engine stores it (not validated)."""
        if self.kind == "days":
            days = [d for d in schedule.WEEKDAYS if self.query_one(f"#day-{d}", Checkbox).value]
            return {"days": days, "time": self.query_one("#basic-time", Input).value.strip()}
        raw = self.query_one("#every-n", Input).value.strip()
        every: Any = int(raw) if raw.isdigit() else raw
        return {"every": every, "unit": str(self.query_one("#every-unit", Select).value)}

    @property
    def timezone(self) -> str:
        """The zone typed, or the workspace's when empty."""
        return self.query_one("#sched-tz", Input).value.strip()

    def get_trigger(self) -> dict[str, Any]:
        """The schedule trigger dict."""
        t: dict[str, Any] = {"type": "schedule"}
        if self.mode == "cron":
            t["cron"] = self.query_one(CronField).value
        else:
            t["basic"] = self.basic_dict()
        if self.timezone:
            t["timezone"] = self.timezone
        return t

    def set_trigger(self, t: dict[str, Any]) -> None:
        """Fill from a stored schedule trigger."""
        self.query_one("#sched-tz", Input).value = t.get("timezone") or ""
        if t.get("cron"):
            self.query_one("#sched-mode", Select).value = "cron"
            self.query_one(CronField).value = str(t["cron"])
        elif isinstance(t.get("basic"), dict):
            basic = t["basic"]
            self.query_one("#sched-mode", Select).value = "basic"
            if "every" in basic:
                self.query_one("#basic-kind", Select).value = "every"
                self.query_one("#every-n", Input).value = str(basic.get("every", ""))
                self.query_one("#every-unit", Select).value = basic.get("unit") or "minutes"
            else:
                self.query_one("#basic-kind", Select).value = "days"
                days = [str(d).upper() for d in basic.get("days") or []]
                for d in schedule.WEEKDAYS:
                    self.query_one(f"#day-{d}", Checkbox).value = d in days
                self.query_one("#basic-time", Input).value = str(basic.get("time") or "")
        self.sync()

    # rules ------------------------------------------------------------------------------------
    def problems(self) -> dict[str, str]:
        """Field id -> message, for the fields of the current mode."""
        out: dict[str, str] = {}
        if self.timezone:
            try:
                schedule.validate_timezone(self.timezone)
            except PeakError as e:
                out["tz-field"] = str(e)
        if self.mode == "cron":
            problem = self.query_one(CronField).problem()
            if problem:
                out["cron-field"] = problem
            return out
        try:
            schedule.BasicSchedule.from_dict(self.basic_dict())
        except ValidationError as e:
            key = {"schedule.days": "days-field", "schedule.time": "time-field"}.get(
                e.field, "every-field")
            out[key] = str(e)
        return out

    def reveal(self, only: str | None = None) -> Widget | None:
        """Show errors (all, or one field's) and return the first bad field."""
        found = self.problems()
        first = None
        for fid in ("days-field", "time-field", "every-field", "cron-field", "tz-field"):
            if only is not None and fid != only:
                continue
            field = self.query_one(f"#{fid}", Field)
            field.set_error(found.get(fid) if fid != "cron-field" else None)
            if fid in found and first is None:
                first = field.widget
        return first

    def sync(self) -> None:
        """Show the editor for the mode and kind, the reading, and the zone for next times."""
        self.query_one("#sched-switch", ContentSwitcher).current = f"sched-{self.mode}"
        self.query_one("#basic-switch", ContentSwitcher).current = f"basic-{self.kind}"
        cron = self.query_one(CronField)
        tz = self.timezone or self.workspace_tz
        if cron.timezone != tz and "tz-field" not in self.problems():
            cron.timezone = tz
        reading = ""
        if self.mode == "basic":
            try:
                reading = schedule.BasicSchedule.from_dict(self.basic_dict()).describe()
            except PeakError:
                reading = ""
        self.query_one("#basic-reading", Static).update(reading)
        self.query_one("#sched-tz", Input).placeholder = self.workspace_tz

    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed)
    @on(CronField.Changed)
    def _changed(self, event: Any) -> None:
        self.sync()
        control = getattr(event, "control", None)
        wid = getattr(control, "id", "") or ""
        if wid.startswith("day-"):
            self.reveal("days-field")
        elif wid == "basic-time":
            self.reveal("time-field")
        elif wid in ("every-n", "every-unit"):
            self.reveal("every-field")
        elif wid == "sched-tz":
            self.reveal("tz-field")
