"""A Quartz cron field: validated as you type, read back in plain English, with the next run times."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from peak_tui import schedule
from peak_tui.errors import PeakError

EXAMPLES = ("0 0/15 * * * ?  every 15 minutes", "0 30 9 ? * MON-FRI  weekdays at 09:30",
            "0 15 10 ? * 6L  10:15 on the last Friday of the month")


def cron_problem(expr: str) -> str | None:
    """The engine's cron rule for one expression (empty counts as missing); None when valid."""
    expr = expr.strip()
    if not expr:
        return "cron: is required (a Quartz expression such as 0 0/15 * * * ?)"
    try:
        schedule.validate(expr)
    except PeakError as e:
        return str(e)
    return None


class CronField(Vertical):
    """Input + reading + next run times; `now` is injectable so tests and snapshots are stable."""

    DEFAULT_CSS = """
    CronField { height: auto; }
    CronField > Input { width: 1fr; background: $boost; }
    CronField > Input:focus { background: $primary 30%; }
    CronField > #cron-error { color: $text-error; display: none; }
    CronField.-error > #cron-error { display: block; }
    CronField > #cron-reading { color: $text-success; }
    CronField > #cron-next { color: $text-muted; }
    CronField > #cron-help { color: $text-muted; }
    """

    COUNT: ClassVar[int] = 5

    class Changed(Message):
        """The expression changed."""

        def __init__(self, field: CronField) -> None:
            super().__init__()
            self.field = field

        @property
        def control(self) -> CronField:
            """The field that changed."""
            return self.field

    def __init__(self, value: str = "", *, timezone: str = "UTC",
                 now: Callable[[], datetime] | None = None, show_next: bool = True,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self._value = value
        self._timezone = timezone
        self.now = now or (lambda: datetime.now(UTC))
        self.show_next = show_next
        self.reading = ""
        self.next_runs: list[datetime] = []

    def compose(self) -> ComposeResult:
        """Input, error, reading, next times and examples."""
        yield Input(self._value, placeholder="Quartz cron: sec min hour day month weekday [year]",
                    compact=True, id="cron-input")
        yield Static("", id="cron-error", markup=False)
        yield Static("", id="cron-reading", markup=False)
        yield Static("", id="cron-next", markup=False)
        yield Static("Examples: " + " · ".join(EXAMPLES), id="cron-help", markup=False)

    def on_mount(self) -> None:
        """Read the initial expression."""
        self._render_reading()

    @property
    def value(self) -> str:
        """The expression as typed (trimmed)."""
        return self.query_one("#cron-input", Input).value.strip()

    @value.setter
    def value(self, expr: str) -> None:
        self.query_one("#cron-input", Input).value = expr
        self._render_reading()

    @property
    def timezone(self) -> str:
        """The zone the next times are shown in."""
        return self._timezone

    @timezone.setter
    def timezone(self, name: str) -> None:
        self._timezone = name
        if self.is_mounted:
            self._render_reading()

    def problem(self) -> str | None:
        """The engine's cron rule for the current text (empty counts as missing)."""
        return cron_problem(self.value)

    def _render_reading(self) -> None:
        expr = self.value
        problem = self.problem() if expr else None
        self.set_class(bool(problem), "-error")
        self.query_one("#cron-error", Static).update(problem or "")
        reading = self.query_one("#cron-reading", Static)
        nxt = self.query_one("#cron-next", Static)
        self.reading, self.next_runs = "", []
        if not expr or problem:
            reading.update("")
            nxt.update("")
            return
        self.reading = schedule.describe(expr)
        reading.update(self.reading)
        if not self.show_next:
            nxt.update("")
            return
        try:
            self.next_runs = schedule.next_times(expr, self.now(), self.COUNT, self._timezone)
        except PeakError as e:
            nxt.update(f"Next runs: unknown ({e})")
            return
        if not self.next_runs:
            nxt.update("Next runs: none (no time left before 2099)")
            return
        times = [t.strftime("%a %Y-%m-%d %H:%M") for t in self.next_runs]
        nxt.update(f"Next runs ({self._timezone}): " + ", ".join(times))

    @on(Input.Changed, "#cron-input")
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self._render_reading()
        self.post_message(self.Changed(self))
