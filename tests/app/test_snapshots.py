"""SVG snapshots of each app screen at 80x24 and 120x40: fixed data, UTC clock, no cursor blink.

Regenerate after an intended change with `pytest tests/app/test_snapshots.py --snapshot-update`.
"""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from app_fixtures import seed, settle, wait_for
from textual.widgets import DataTable, Input

from peak_tui.app import PeakApp
from peak_tui.execution import TestResult
from screens.run_detail import RunDetailScreen
from screens.run_history import RunHistoryScreen
from screens.test_result import TestResultScreen

SIZES = pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
Before = Callable[[Any], Awaitable[None]]


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times render in local time: make local time UTC for the length of a test."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def shoot(snap_compare: Any, ws: Any, size: tuple[int, int], then: Before | None = None) -> bool:
    """Open the app on `ws`, wait until the list and every worker settled, run `then`, compare."""
    app = PeakApp(ws)

    async def before(pilot: Any) -> None:
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "loaded", False), what="the list")
        await settle(pilot)
        if then is not None:
            await then(pilot)
            await settle(pilot)
        for box in pilot.app.screen.query(Input):
            box.cursor_blink = False

    return snap_compare(app, terminal_size=size, run_before=before)


@SIZES
def test_data_sources(snap_compare, ws, size):
    assert shoot(snap_compare, seed(ws), size)


@SIZES
def test_data_sources_filtered(snap_compare, ws, size):
    async def then(pilot: Any) -> None:
        pilot.app.screen.query_one("#feed-filter", Input).value = "tag:sales"
        await pilot.pause()
        table = pilot.app.screen.query_one(DataTable)
        table.move_cursor(row=1)
        table.focus()

    assert shoot(snap_compare, seed(ws), size, then)


@SIZES
def test_run_history(snap_compare, ws, size):
    async def then(pilot: Any) -> None:
        pilot.app.push_screen(RunHistoryScreen("orders"))
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "loaded", False) and
                       isinstance(pilot.app.screen, RunHistoryScreen))

    assert shoot(snap_compare, seed(ws), size, then)


@SIZES
def test_run_detail(snap_compare, ws, size):
    seed(ws)
    newest = ws.runs.list("orders", limit=1)[0].id

    async def then(pilot: Any) -> None:
        pilot.app.push_screen(RunDetailScreen(newest))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunDetailScreen)
                       and pilot.app.screen.run is not None)
        await pilot.pause(0.1)  # one flush of the log pane (it paints every 50 ms)

    assert shoot(snap_compare, ws, size, then)


@SIZES
def test_confirm_delete(snap_compare, ws, size):
    async def then(pilot: Any) -> None:
        await pilot.press("down", "down", "d")

    assert shoot(snap_compare, seed(ws), size, then)


@SIZES
def test_help(snap_compare, ws, size):
    async def then(pilot: Any) -> None:
        await pilot.press("f1")

    assert shoot(snap_compare, seed(ws), size, then)


@SIZES
def test_tags_editor(snap_compare, ws, size):
    async def then(pilot: Any) -> None:
        await pilot.press("down", "down", "down", "g")
        await wait_for(pilot, lambda: pilot.app.screen.query("#tag-input"))
        await pilot.press(*"nightly", "enter", *"bad-tag", "enter")

    assert shoot(snap_compare, seed(ws), size, then)


@SIZES
def test_test_result(snap_compare, ws, size):
    result = TestResult(
        ok=True, total=250, duration=1.25,
        records=[{"id": i, "status": ["paid", "shipped"][i % 2], "total": 10.5 * i,
                  "updated_at": f"2026-01-0{1 + i % 7}T09:00:00Z"} for i in range(1, 11)],
        columns=[("id", "integer"), ("status", "string"), ("total", "number"),
                 ("updated_at", "string")],
        metadata_before={}, metadata_after={"updated_since": "2026-01-07T09:33:00Z"},
        log="[peak] environment ready in 0.05 s\npage 1: 50 orders\n[peak] test passed\n")

    async def then(pilot: Any) -> None:
        pilot.app.push_screen(TestResultScreen("orders", result))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TestResultScreen)
                       and pilot.app.screen.query("#test-preview")
                       and pilot.app.screen.query_one("#test-preview", DataTable).row_count)

    assert shoot(snap_compare, seed(ws), size, then)
