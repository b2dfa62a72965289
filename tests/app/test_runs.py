"""Run history, run detail, the command palette, a log flood, and the list's speed with many feeds."""
from __future__ import annotations

import time

from app_fixtures import bulk, seed, wait_for
from textual.binding import Binding
from textual.widgets import DataTable, Sparkline

from peak_tui.app import PeakApp
from peak_tui.models import Connection, Feed
from peak_tui.widgets.log_pane import LogPane
from screens import confirm, data_sources, help, run_detail, run_history, tags, test_result
from screens.data_sources import DataSourcesScreen
from screens.run_detail import RunDetailScreen
from screens.run_history import RunHistoryScreen

SIZE = (120, 40)
FLOOD = ("import os, time\nimport requests\nfrom lib import outputStream, metadata\n"
         "print('waiting for the gate', flush=True)\n"
         "while not os.path.exists(GATE):\n    time.sleep(0.01)\n"
         "for i in range(200000):\n    print(f'flood line {i} of a chatty script')\n"
         "outputStream.write({'done': True})\n")


async def loaded_list(pilot) -> DataSourcesScreen:
    return await wait_for(pilot, lambda: isinstance(pilot.app.screen, DataSourcesScreen)
                          and pilot.app.screen.loaded and pilot.app.screen, what="the feed list")


async def select(pilot, screen, name: str) -> None:
    table = screen.query_one("#feed-table", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.pause()


async def test_history_then_detail_with_log_search_and_copy(ws):
    seed(ws)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, await loaded_list(pilot), "orders")
        await pilot.press("h")
        history = await wait_for(pilot, lambda: isinstance(app.screen, RunHistoryScreen)
                                 and app.screen.loaded and app.screen, what="history")
        assert history.query_one("#run-table", DataTable).row_count == 12
        records = history.query_one("#spark-records", Sparkline).data
        assert list(records) == [200.0 + 35 * i for i in range(11)] + [0.0]  # oldest first
        assert len(history.query_one("#spark-duration", Sparkline).data) == 12
        assert "12 runs · 11 succeeded (91%)" in str(history.query_one("#history-summary").render())
        await pilot.press("enter")  # the newest run: the failed one
        detail = await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen)
                                and app.screen.run is not None and app.screen, what="detail")
        assert "✗ failed" in str(detail.query_one("#run-facts").render())
        assert "500 Server Error" in str(detail.query_one("#run-error").render())
        traceback = str(detail.query_one("#run-traceback").render())
        assert "Traceback (most recent call last)" in traceback and "raise_for_status" in traceback
        metadata = str(detail.query_one("#run-metadata").render())
        assert "nothing committed" in metadata and "2026-03-01T00:00:00Z" in metadata
        pane = detail.query_one(LogPane)
        assert "page 2: 50 orders" in pane.lines and "" not in pane.lines
        await pilot.press("slash", *"page", "enter")
        assert pane.log_view.current_match == 3
        await pilot.press("escape", "c")
        assert app.clipboard == detail.log_text and "page 1: 50 orders" in app.clipboard
        await pilot.press("escape")
        assert app.screen is history


async def test_run_again_from_the_detail_and_the_history_follows(ws):
    seed(ws)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded_list(pilot)
        run_id = ws.runs.list("invoices")[0].id if ws.runs.list("invoices") else None
        assert run_id is None
        app.push_screen(RunHistoryScreen("orders"))
        history = await wait_for(pilot, lambda: isinstance(app.screen, RunHistoryScreen)
                                 and app.screen.loaded and app.screen)
        await pilot.press("r")
        await wait_for(pilot, lambda: not app.live, 60, "the run")
        await wait_for(pilot, lambda: len(history.runs) == 13, what="the history to reload")
        assert history.runs[0].status == "succeeded" and history.runs[0].records == 1


async def test_command_palette_lists_actions_and_runs_a_feed_by_name(ws):
    seed(ws)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        await loaded_list(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"run feed invoices")
        await wait_for(pilot, lambda: "Run feed invoices" in str(app.screen.query("CommandList").first()
                                                                  .get_option_at_index(0).prompt),
                       what="the palette hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ws.runs.list("invoices"), 60, "the run")
        await wait_for(pilot, lambda: not app.live, 60, "the run to end")
        assert ws.runs.list("invoices")[0].status == "succeeded"


async def test_a_log_flood_keeps_the_app_responsive_and_the_pane_bounded(ws, tmp_path):
    gate = tmp_path / "gate"  # the flood starts once the run detail follows the live log
    ws.connections.add(Connection(name="none", auth_type="none"))
    ws.feeds.save(Feed(name="flood", connection="none", script=f"GATE = {str(gate)!r}\n" + FLOOD))
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await loaded_list(pilot)
        await select(pilot, screen, "flood")
        await pilot.press("r")
        job = app.live["flood"]
        await wait_for(pilot, lambda: job.run_id, 30, "the run to start")
        app.push_screen(RunDetailScreen(job.run_id))
        detail = await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen)
                                and app.screen.run is not None and app.screen, what="detail")
        pane = detail.query_one(LogPane)
        await wait_for(pilot, lambda: any("waiting for the gate" in line for line in pane.lines),
                       30, "the script's first line in the live pane")
        gate.touch()
        ticks: list[float] = []
        app.set_interval(0.02, lambda: ticks.append(time.perf_counter()))
        seen = pane.received
        while "flood" in app.live:  # poll: the pane's line count while the flood runs
            seen = max(seen, pane.received)
            assert len(pane.lines) <= pane.max_lines
            await pilot.pause(0.05)
        seen = max(seen, pane.received)
        gaps = sorted(b - a for a, b in zip(ticks, ticks[1:], strict=False))
        assert seen > 50_000, "the live log reached the pane"
        # generous bounds: the suite shares 2 cores; bench/bench_tui.py measures the real figure
        assert len(gaps) > 20, "the UI timer kept ticking through the flood"
        p95 = gaps[int(len(gaps) * 0.95)]
        assert p95 < 0.25 and gaps[-1] < 1.0, f"p95 gap {p95:.3f} s, worst {gaps[-1]:.3f} s"
        await wait_for(pilot, lambda: detail._job is None, what="the run to be stored")
        await wait_for(pilot, lambda: pane.lines and pane.lines[-1].startswith("[peak] duration"),
                       what="the last line in the pane")
        assert len(pane.lines) <= pane.max_lines
        stored = ws.runs.logs(job.run_id)
        assert "flood line 199999 of a chatty script" in stored  # the full (bounded) log is kept
        assert detail.log_text == stored  # what copy-all copies


async def test_open_with_1000_feeds_and_100000_runs_is_quick(ws):
    bulk(ws, 1000, 100_000)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await loaded_list(pilot)
        assert len(screen.shown) == 1000
        # the bench (bench/bench_tui.py) measures the 0.5 s target; this bound survives -n 2 load
        assert screen.first_load_seconds is not None and screen.first_load_seconds < 2.0
        screen.query_one("#feed-filter").value = "tag:team3 feed_00"
        await wait_for(pilot, lambda: len(screen.shown) < 1000)
        assert {s.name for s in screen.shown} == {f"feed_{i:04d}" for i in range(100) if i % 7 == 3}


def test_every_binding_has_an_id_and_avoids_ambiguous_keys():
    classes = [PeakApp, data_sources.DataSourcesScreen, run_history.RunHistoryScreen,
               run_detail.RunDetailScreen, test_result.TestResultScreen, confirm.ConfirmScreen,
               confirm.MessageScreen, help.HelpScreen, tags.TagsScreen, tags.TagChip, LogPane]
    for cls in classes:
        for b in cls.BINDINGS:
            assert isinstance(b, Binding) and b.id, f"{cls.__name__}: {b.key} has no id"
            keys = set(b.key.split(","))
            assert not keys & {"ctrl+m", "ctrl+i", "ctrl+enter", "ctrl+c"}, f"{cls.__name__}: {b.key}"
    assert any(b.key == "ctrl+q" and b.action == "quit" for b in PeakApp.BINDINGS)
