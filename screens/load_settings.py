"""Stage 3, Load type and feed name: the load type is Incremental; the name follows the engine's rules."""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, Static

from peak_tui import validation as v
from peak_tui.errors import ValidationError
from screens.wizard_form import Field, Stage, compact_input, rule_problem

NAME_RULES = (f"Letters, digits and underscores; starts with a letter; no trailing underscore; "
              f"at most {v.FEED_NAME_MAX} characters.")
FIXED_NOTE = ("Feed names are fixed: the warehouse table is named after the feed, so the name cannot "
              "change once the feed is saved.")


class LoadStage(Stage):
    """The load type (fixed) and the feed's name, validated as you type."""

    HELP = """
    Load & name: every feed loads incrementally. The feed name becomes the warehouse table's name,
    so it cannot change after the feed is saved: letters, digits and underscores, starting with a
    letter, no trailing underscore, at most 50 characters.
    """

    step_title = "Load & name"

    DEFAULT_CSS = """
    LoadStage #load-type { margin-bottom: 1; }
    LoadStage #name-note { color: $text-muted; padding-left: 16; }
    """

    def __init__(self, *, editing: str | None = None, id: str | None = None) -> None:
        super().__init__(lazy=True, id=id)
        self.editing = editing
        self.taken: set[str] = set()

    def compose_form(self) -> ComposeResult:
        """Load type line, name field and the note on fixed names."""
        yield Static("How each run loads, and what the feed (and its warehouse table) is called.",
                     classes="stage-intro")
        yield Field("Load type", Static("Incremental", id="load-type-value"),
                    hint="Each run continues from the metadata the last successful run saved. "
                         "It is the only load type.", id="load-type")
        yield Field("Feed name", compact_input("feed-name", placeholder="e.g. sales_orders",
                                               rule=self._name_rule, value=self.editing or "",
                                               disabled=self.editing is not None,
                                               max_length=200),
                    hint=NAME_RULES, id="feed-name-field")
        yield Static(FIXED_NOTE, id="name-note", markup=False)

    def _name_rule(self, value: str) -> None:
        if self.editing is not None:
            return
        v.feed_name(value)
        if value in self.taken:
            raise ValidationError("feed.name", "already exists: pick another name", value)

    @property
    def name_input(self) -> Input:
        """The name field."""
        return self.query_one("#feed-name", Input)

    def defaults(self) -> dict[str, Any]:
        """A new feed has no name yet; an edited one keeps its own."""
        return {"name": self.editing or "", "load_type": "incremental"}

    def form_values(self) -> dict[str, Any]:
        """Name and load type."""
        return {"name": self.name_input.value.strip(), "load_type": "incremental"}

    def set_form_values(self, values: dict[str, Any]) -> None:
        """Fill the name (read-only when editing)."""
        if "name" in values:
            with self.prevent(Input.Changed):
                self.name_input.value = values["name"] or ""
            self.name_input.remove_class("-invalid")

    def values_problem(self, values: dict[str, Any]) -> str | None:
        """The engine's feed-name rule, plus 'already exists' for a new feed."""
        return rule_problem(self._name_rule, values.get("name") or "")

    def reveal_problems(self) -> Widget | None:
        """Show the name's error."""
        if not self.built:
            return None
        problem = self.problem()
        self.query_one("#feed-name-field", Field).set_error(problem)
        return self.name_input if problem else None

    @on(Input.Changed, "#feed-name")
    def _name_changed(self, event: Input.Changed) -> None:
        result = event.validation_result
        message = None if result is None or result.is_valid else result.failure_descriptions[0]
        self.query_one("#feed-name-field", Field).set_error(message)
        self.changed()
