"""Test from the wizard against the real demo API: preview, failure with the marked line, Cancel."""
from __future__ import annotations

import time

from textual.widgets import DataTable
from wizard_host import WizardHost, opened, wait_for

from peak_tui import demo
from peak_tui.demo_api import orders_total
from peak_tui.widgets.log_pane import LogPane
from peak_tui.widgets.record_preview import RecordPreview
from peak_tui.widgets.script_editor import ScriptEditor
from screens.import_config import ImportStage

SIZE = (120, 40)
FAILING = """import requests
from lib import outputStream, metadata

outputStream.write({"id": 1})
rows = requests.get(BASE + "/nope")
"""


async def start(pilot, wizard, script: str) -> ImportStage:
    """Stage 2 with the given script, then ctrl+t."""
    await pilot.press("ctrl+n")  # the demo connection is highlighted and saved: Next moves on
    await wait_for(pilot, lambda: wizard.step == 1, what="stage 2")
    stage = wizard.query_one(ImportStage)
    stage.editor.text_area.load_text(script)
    await pilot.pause()
    await pilot.press("ctrl+t")
    await wait_for(pilot, lambda: stage.testing or stage.last_result is not None, what="the test")
    return stage


async def test_test_previews_records_and_metadata(demo_ws, demo_api):
    app = WizardHost(demo_ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        assert wizard.values()["connection"] == "demo"
        stage = await start(pilot, wizard, demo.with_base_url(demo.script("orders"), demo_api.url))
        await wait_for(pilot, lambda: stage.last_result is not None and not wizard.testing,
                       timeout=60, what="the result")
        result = stage.last_result
        assert result.ok, result.error
        preview = stage.query_one(RecordPreview)
        await wait_for(pilot, lambda: preview.has_class("-shown"), what="the preview")
        assert preview.has_class("-passed")
        table = preview.query_one(DataTable)
        assert table.row_count == 10 and "id" in [str(c.label) for c in table.columns.values()]
        summary = str(preview.query_one("#preview-summary").render())
        assert f"{orders_total():,} records" in summary and "showing the first 10" in summary
        meta = str(preview.query_one("#preview-meta").render())
        assert "Metadata before: {}" in meta and '"updated_since":' in meta
        assert '"id": ' in preview.json_text
        pane = stage.query_one(LogPane)
        await wait_for(pilot, lambda: any("test passed" in line for line in pane.lines),
                       what="the log to show the end")
        assert any("environment" in line for line in pane.lines)
        await pilot.press("ctrl+r")  # refresh: follow the end of the log again
        assert pane.follow


async def test_a_failing_script_marks_its_line(demo_ws):
    app = WizardHost(demo_ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = await start(pilot, wizard, FAILING)
        await wait_for(pilot, lambda: stage.last_result is not None, timeout=60, what="the result")
        result = stage.last_result
        assert not result.ok and result.error_line == 5
        preview = stage.query_one(RecordPreview)
        await wait_for(pilot, lambda: preview.has_class("-shown"), what="the preview")
        assert preview.has_class("-failed")
        summary = str(preview.query_one("#preview-summary").render())
        assert "Test failed (line 5 of the script)" in summary and "NameError" in summary
        assert "Traceback" in preview.query_one("#preview-traceback").text
        editor = stage.query_one(ScriptEditor)
        assert editor.marked_line == 5
        assert editor.text_area.selection.start[0] == 4  # the failing line is selected
        assert "line 5" in str(editor.query_one("#script-error").render())


async def test_cancel_ends_a_long_test_promptly(demo_ws):
    app = WizardHost(demo_ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = await start(pilot, wizard, "import time\nprint('sleeping')\ntime.sleep(30)\n")
        pane = stage.query_one(LogPane)
        await wait_for(pilot, lambda: any("sleeping" in line for line in pane.lines), timeout=60,
                       what="the script to start")
        await wait_for(pilot, lambda: wizard.testing, what="the wizard to know a test runs")
        assert wizard.check_action("cancel_test", ()) is True
        assert wizard.check_action("test", ()) is False  # one test at a time
        began = time.monotonic()
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: stage.last_result is not None and not wizard.testing,
                       timeout=15, what="the cancel")
        assert time.monotonic() - began < 10
        assert not stage.last_result.ok and not wizard.testing
        assert "cancelled" in str(stage.query_one("#test-status").render())
        assert wizard.check_action("test", ()) is True  # Test is available again
