"""SVG snapshots of each wizard stage at 80x24 and 120x40 (no clock-dependent text is shown)."""
from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea
from wizard_host import WizardHost, goto_stage, opened, wait_for

from peak_tui.demo_setup import install_demo
from screens.load_settings import LoadStage
from screens.trigger import TriggerStage
from screens.wizard import FeedWizard

FIXED_URL = "http://127.0.0.1:8765"  # nothing is called: the stages only show the connections


def no_blink(wizard: FeedWizard) -> None:
    for widget in wizard.query("Input, TextArea"):
        assert isinstance(widget, Input | TextArea)
        widget.cursor_blink = False


def prepare(stage: int):
    async def run_before(pilot) -> None:
        wizard = await opened(pilot)
        wizard.query_one(LoadStage).set_values({"name": "sales_orders"})
        wizard.query_one(TriggerStage).set_values({"trigger": {
            "type": "schedule", "basic": {"days": ["MON", "TUE", "WED", "THU", "FRI"],
                                          "time": "09:00"}}})
        await goto_stage(pilot, wizard, stage)
        no_blink(wizard)
        await wait_for(pilot, lambda: wizard.focused is not None, what="focus in the stage")
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("stage", [0, 1, 2, 3, 4],
                         ids=["connection", "import", "load", "destination", "trigger"])
def test_stage_snapshot(snap_compare, ws, stage, size):
    install_demo(ws, FIXED_URL)
    app = WizardHost(ws)
    assert snap_compare(app, terminal_size=size, run_before=prepare(stage))
