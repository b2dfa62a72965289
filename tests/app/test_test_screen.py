"""The Test screen: a slow Test opens live with its log streaming, x cancels it, t tests again in the
same screen, Escape leaves it running in the background, and highlighting a feed keeps a warm
interpreter ready. Real script children and the real demo API, through Pilot."""
from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest
from app_fixtures import wait_for
from rich.console import Console
from test_data_sources import SIZE, opened, row, select
from textual.widgets import DataTable, Static, TabbedContent

from peak_tui.app import PeakApp
from peak_tui.execution import test_feed
from peak_tui.runtime.warm import POOL
from peak_tui.widgets.log_pane import LogPane
from peak_tui.workspace import Workspace
from screens.data_sources import DataSourcesScreen
from screens.test_result import TestResultScreen
from tests.unit.test_warm import alive, python_of, save, warm_dirs
from tests.unit.test_warm import settle as settle_pool

SLOW = """\
import os
import time
from lib import outputStream

print(f"slow: started pid {{os.getpid()}}", flush=True)
for step in range({steps}):
    time.sleep(0.1)
    print(f"slow: step {{step}}", flush=True)
for i in range(3):
    outputStream.write({{"id": i + 1, "name": f"row {{i + 1}}"}})
"""
QUICK = """\
from lib import outputStream

outputStream.write({"id": 'A-1 "quoted"', "tags": ["x", "y"], "n": 1})
outputStream.write({"id": "A-2", "tags": [], "n": 2})
"""


@pytest.fixture(autouse=True)
def pool_closed(ws: Workspace) -> Iterator[None]:
    """Every test starts with the warm pool off and the app leaves it closed: no spare, no directory."""
    assert not POOL.enabled, "an earlier test left the warm pool enabled"
    yield
    assert not POOL.enabled, "the app did not close the warm pool as it exited"
    settle_pool(POOL)  # a spare that was starting as the app closed is dropped
    assert POOL._spares == {} and warm_dirs(ws) == []


def slow_feed(ws: Workspace, seconds: float, name: str = "slow") -> None:
    save(ws, SLOW.format(steps=round(seconds * 10)), name=name)


def outcome(screen: TestResultScreen) -> str:
    return str(screen.query_one("#test-outcome", Static).render())


def active_tab(screen: TestResultScreen) -> str:
    return screen.query_one("#test-tabs", TabbedContent).active


def log_lines(screen: TestResultScreen) -> list[str]:
    """The Log tab's lines ([] until its lazily mounted pane is there)."""
    panes = screen.query("#test-log")
    return panes.first(LogPane).lines if panes else []


def plain(static: Static) -> str:
    """What a Static shows, as plain text (its content may be a Rich renderable such as Syntax)."""
    console = Console(width=400, file=io.StringIO(), color_system=None, record=True)
    console.print(static.content)
    return console.export_text(styles=False)


async def live_screen(pilot, feed: str = "slow") -> TestResultScreen:
    """Press t on Data Sources with `feed` selected; the Test screen once it follows the running
    test and its log shows the script's first line."""
    app = pilot.app
    await select(pilot, await opened(pilot), feed)
    await pilot.press("t")
    assert feed in app.live and app.live[feed].kind == "test"
    screen = await wait_for(pilot, lambda: isinstance(app.screen, TestResultScreen)
                            and app.screen.is_mounted and app.screen.job is not None
                            and app.screen, timeout=5,
                            what="the live Test screen")
    assert screen is app.test_screen() and screen.job is app.live[feed] and screen.feed == feed
    await wait_for(pilot, lambda: any(line.startswith("slow: started") for line in log_lines(screen)),
                   what="the script's first line in the live log")
    return screen


async def finished(pilot, screen: TestResultScreen, timeout: float = 30) -> None:
    """Wait until the test has ended and the screen shows its result (a quick test's screen gets
    the result before it is mounted: only its outcome line tells it has been shown)."""
    await wait_for(pilot, lambda: screen.job is None and screen.result is not None
                   and not pilot.app.live and screen.is_mounted and "test of" in outcome(screen),
                   timeout, "the test's result")


async def screen_after_t(pilot, feed: str) -> TestResultScreen:
    """Press t on Data Sources with `feed` selected; the Test screen once it shows the result."""
    app = pilot.app
    await select(pilot, await opened(pilot), feed)
    await pilot.press("t")
    screen = await wait_for(pilot, lambda: isinstance(app.screen, TestResultScreen)
                            and app.screen, 30, "the Test screen")
    await finished(pilot, screen)
    return screen


async def test_a_slow_test_opens_live_then_fills_in_place(ws):
    slow_feed(ws, 2.0)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_screen(pilot)
        assert screen.job is not None  # still running: the script sleeps 2 s after its first line
        text = outcome(screen)
        assert "testing slow" in text and "x cancels" in text
        assert active_tab(screen) == "tab-test-log"
        assert screen.check_action("cancel", ()) and not screen.check_action("test", ())
        assert screen.query_one("#test-preview", DataTable).row_count == 0

        await finished(pilot, screen)
        assert app.screen is screen  # filled in place, not a second screen
        assert screen.result.ok and screen.result.total == 3, screen.result.log
        assert active_tab(screen) == "tab-preview"
        table = screen.query_one("#test-preview", DataTable)
        assert table.row_count == 3
        assert [str(c) for c in table.get_row_at(0)] == ["1", "row 1"]
        assert "test of slow passed: 3 records" in outcome(screen)
        assert not screen.query_one("#test-error-line", Static).display
        assert not screen.check_action("cancel", ()) and screen.check_action("test", ())
        assert "slow: step 19" in log_lines(screen)  # the whole stored log replaced the live one


async def test_x_cancels_a_running_test(ws):
    slow_feed(ws, 20.0)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_screen(pilot)
        started = next(line for line in log_lines(screen) if line.startswith("slow: started"))
        pid = int(started.rsplit(" ", 1)[1])
        assert alive(pid)
        t0 = time.monotonic()
        await pilot.press("x")
        assert any(n.message == "cancelling the test of slow" for n in app._notifications)
        await finished(pilot, screen, timeout=10)
        assert time.monotonic() - t0 < 5  # the script had ~20 s to go
        result = screen.result
        assert not result.ok and result.error == "cancelled" and result.total == 0
        assert app.screen is screen and active_tab(screen) == "tab-test-error"
        assert "test of slow failed after" in outcome(screen)
        error = screen.query_one("#test-error-line", Static)
        assert error.display and str(error.render()) == "✗ cancelled"
        await wait_for(pilot, lambda: screen.query("#test-traceback"), what="the Error tab")
        assert plain(screen.query_one("#test-traceback", Static)).strip() == "cancelled"
        assert "slow: step 199" not in log_lines(screen)  # it never got to its end
        assert screen.check_action("test", ()) and not screen.check_action("cancel", ())
        await wait_for(pilot, lambda: not alive(pid), 5, "the script's process to be gone")

        await pilot.press("escape")
        sources = app.screen
        assert isinstance(sources, DataSourcesScreen)
        assert row(sources, "slow")[2] == "· never"  # a Test leaves no run behind
        assert ws.runs.list("slow") == []


async def test_test_again_reuses_the_one_screen(demo_ws):
    app = PeakApp(demo_ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await screen_after_t(pilot, "demo_orders")
        first = screen.result
        assert first.ok and first.total == 250, first.log
        before = id(screen)

        await pilot.press("t")
        await wait_for(pilot, lambda: screen.result is not None and screen.result is not first,
                       30, "the second test's result")
        await finished(pilot, screen)
        assert id(app.screen) == before and app.screen is screen is app.test_screen()
        assert screen.result.ok and screen.result.total == 250, screen.result.log
        assert screen.query_one("#test-preview", DataTable).row_count == 10
        assert active_tab(screen) == "tab-preview"
        assert "test of demo_orders passed: 250 records" in outcome(screen)
        assert [type(s) for s in app.screen_stack].count(TestResultScreen) == 1
        assert len(app.screen_stack) == 2  # Data Sources, then the Test screen
        assert demo_ws.runs.list("demo_orders") == []


async def test_escape_leaves_the_test_running_and_a_notification_reports_it(ws):
    slow_feed(ws, 2.0)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_screen(pilot)
        job = screen.job
        await pilot.press("escape")
        sources = app.screen
        assert isinstance(sources, DataSourcesScreen) and screen not in app.screen_stack
        assert app.live.get("slow") is job  # popping the screen did not stop the test
        assert "testing" in row(sources, "slow")[2]

        await wait_for(pilot, lambda: not app.live, 30, "the test to end")
        await wait_for(pilot, lambda: any("test of slow" in n.message for n in app._notifications),
                       what="the notification")
        notes = [n.message for n in app._notifications if "test of slow" in n.message]
        assert notes == ["test of slow passed: 3 records"]
        await pilot.pause()
        assert app.screen is sources and screen not in app.screen_stack  # not pushed back
        assert row(sources, "slow")[2] == "· never"
        assert screen.job is None and screen.result.ok  # filled for the next time it opens


async def test_a_quick_test_shows_its_result_while_another_runs_unseen(ws):
    """A left running in the background must not keep B's quick result from opening."""
    slow_feed(ws, 3.0)
    save(ws, QUICK, name="quick")
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await live_screen(pilot)
        await pilot.press("escape")
        sources = app.screen
        assert isinstance(sources, DataSourcesScreen) and "slow" in app.live
        await select(pilot, sources, "quick")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen is screen and screen.feed == "quick"
                       and screen.result is not None and "test of quick" in outcome(screen),
                       30, "the quick test's result")
        assert screen.result.ok and screen.result.total == 2 and "slow" in app.live
        await wait_for(pilot, lambda: not app.live, 30, "the slow test to end")
        await wait_for(pilot, lambda: any("test of slow" in n.message for n in app._notifications),
                       what="the slow test's notification")
        assert screen.feed == "quick" and "test of quick" in outcome(screen)  # not taken over


async def test_json_tab_renders_the_records_on_first_open(ws):
    save(ws, QUICK, name="quick")
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await screen_after_t(pilot, "quick")
        assert screen.result.ok, screen.result.log
        assert active_tab(screen) == "tab-preview"
        await pilot.press("2")
        assert active_tab(screen) == "tab-test-json"
        static = await wait_for(pilot, lambda: screen.query("#test-json")
                                and screen.query_one("#test-json", Static), what="the JSON tab")
        text = await wait_for(pilot, lambda: plain(static).strip(), what="the JSON text")
        assert '"id": "A-1 \\"quoted\\""' in text  # JSON, not a Python repr
        assert json.loads(text) == screen.result.records == [
            {"id": 'A-1 "quoted"', "tags": ["x", "y"], "n": 1}, {"id": "A-2", "tags": [], "n": 2}]


async def test_highlighting_a_feed_keeps_a_warm_interpreter_until_exit(demo_ws):
    ws = demo_ws
    # the first row is a feed whose environment is not built: its prewarm asks for nothing, so a
    # spare can only come from highlighting demo_orders
    save(ws, QUICK, name="a_unbuilt", dependencies=["six==1.16.0"])
    assert not ws.envs.is_ready(ws.envs.key(["six==1.16.0"])), "precondition: not built"
    feed = ws.feeds.get("demo_orders")
    assert test_feed(ws, feed).ok  # builds demo_orders' environment (the pool is off: no spare)
    assert POOL._spares == {} and warm_dirs(ws) == []
    python = python_of(ws, feed)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        sources = await opened(pilot)
        assert sources.selected_name() == "a_unbuilt"
        await wait_for(pilot, lambda: POOL.enabled, what="the app to enable the pool")
        await select(pilot, sources, "demo_orders")
        spare = await wait_for(pilot, lambda: POOL._spares.get(python), 15, "a warm spare")
        assert spare.alive() and spare.workdir.parent == ws.tmp_dir
        assert warm_dirs(ws) == [spare.workdir]
        assert list(POOL._spares) == [python]
    assert not POOL.enabled and POOL._spares == {}
    assert warm_dirs(ws) == []
    assert not alive(spare.proc.pid)
    unbuilt = ws.envs.key(["six==1.16.0"])
    assert not any(unbuilt in p.name for p in ws.envs.root.iterdir()), "prewarm built an environment"


async def test_a_test_whose_worker_fails_does_not_leave_the_screen_testing(ws, monkeypatch):
    """An engine fault in the test's worker (here: raised after the live screen opened) ends the
    live state: the screen shows the failure, Test again is offered, the error is reported."""
    import peak_tui.execution as execution

    def broken(*args, **kwargs):
        time.sleep(0.8)  # long enough for the live screen to open first
        raise RuntimeError("engine fault for the test")

    monkeypatch.setattr(execution, "test_feed", broken)
    save(ws, QUICK, name="quick")
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, await opened(pilot), "quick")
        await pilot.press("t")
        screen = await wait_for(pilot, lambda: isinstance(app.screen, TestResultScreen)
                                and app.screen.is_mounted and app.screen.job is not None
                                and app.screen, 10, "the live Test screen")
        await wait_for(pilot, lambda: screen.job is None, 10, "the live state to end")
        assert not screen.result.ok and "engine fault for the test" in screen.result.error
        assert screen.check_action("test", ()) and not screen.check_action("cancel", ())
        await wait_for(pilot, lambda: "failed" in outcome(screen), what="the failed outcome")
