"""Stage 4, Destination: where the feed loads, among what the workspace's data warehouse offers."""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import RadioButton, RadioSet, Static

from peak_tui.destinations import LABELS
from screens.wizard_form import Stage

WAREHOUSE_LABELS = {"local": "Local (embedded SQLite warehouse)", "redshift": "Amazon Redshift",
                    "snowflake": "Snowflake"}


class DestinationStage(Stage):
    """A radio set of the destination kinds offered; shows the workspace's warehouse."""

    HELP = """
    Destination: pick where the records land (Up/Down, Enter). Only the destinations the
    workspace's data warehouse offers are listed.
    """

    step_title = "Destination"

    DEFAULT_CSS = """
    DestinationStage #warehouse { margin-bottom: 1; }
    DestinationStage RadioSet { width: 44; margin-bottom: 1; }
    DestinationStage #dest-note { color: $text-muted; }
    DestinationStage #dest-note.-warning { color: $text-warning; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(lazy=True, id=id)
        self.offered: tuple[str, ...] = ()
        self.warehouse = ""

    def load(self, warehouse: str, offered: tuple[str, ...]) -> None:
        """The workspace's warehouse and the kinds it offers (read by the wizard's loader)."""
        self.warehouse, self.offered = warehouse, tuple(offered)

    def compose_form(self) -> ComposeResult:
        """Warehouse line, one radio button per offered destination, note."""
        chosen = self.stored_values()["destination"]["type"]
        yield Static("Where the records land. The workspace's data warehouse decides which "
                     "destinations are offered.", classes="stage-intro")
        yield Static(f"Data warehouse of this workspace: "
                     f"{WAREHOUSE_LABELS.get(self.warehouse, self.warehouse)}", id="warehouse",
                     markup=False)
        yield RadioSet(*[RadioButton(LABELS.get(k, k), value=k == chosen, name=k)
                         for k in self.offered], id="dest-choices")
        yield Static(self._note(chosen), id="dest-note", markup=False,
                     classes="" if chosen in self.offered else "-warning")

    def defaults(self) -> dict[str, Any]:
        """The first destination offered."""
        return {"destination": {"type": self.offered[0] if self.offered else "local"}}

    def form_values(self) -> dict[str, Any]:
        """The destination dict."""
        pressed = self.query_one(RadioSet).pressed_button
        if pressed is None:
            return {"destination": dict(self.pending.get("destination") or self.defaults()
                                        ["destination"])}
        return {"destination": {"type": pressed.name}}

    def set_form_values(self, values: dict[str, Any]) -> None:
        """Press the feed's destination, when offered."""
        kind = (values.get("destination") or {}).get("type")
        for button in self.query(RadioButton):
            if button.name == kind:
                button.value = True

    def values_problem(self, values: dict[str, Any]) -> str | None:
        """The destination must be one the workspace offers."""
        kind = (values.get("destination") or {}).get("type")
        if not self.offered:
            return "feed.destination: still loading the workspace's warehouse"
        if kind not in self.offered:
            return (f"feed.destination: is not offered by this workspace's warehouse "
                    f"({self.warehouse}); choose one of {', '.join(self.offered)}")
        return None

    def reveal_problems(self) -> Widget | None:
        """Point at the choices."""
        return self.query_one(RadioSet) if self.built and self.problem() else None

    def _note(self, kind: str) -> str:
        if kind not in self.offered:
            return (f"This feed loaded into {LABELS.get(kind, kind)}, which this workspace does not "
                    "offer: pick one of the above.")
        return "Each feed loads into its own table, named after the feed."

    @on(RadioSet.Changed, "#dest-choices")
    def _picked(self, event: RadioSet.Changed) -> None:
        note = self.query_one("#dest-note", Static)
        note.update(self._note(str(event.pressed.name)))
        note.remove_class("-warning")
        self.changed()
