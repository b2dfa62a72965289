"""Everything at once on one workspace: the TUI refreshing Data Sources under Pilot, a loop of CLI
reads, and the `serve` daemon taking 200 webhook calls in 10 s across 20 feeds.

Then: no two runs of one feed overlap, one run per accepted call and one skipped run (with its
reason) per refused call, every 202's run exists and finished, no "database is locked" anywhere
(run errors and logs, the daemon log, CLI output, the TUI's messages), and the webhook answers fast
(p99 asserted < 1 s for noisy CI machines; the target is 200 ms, see bench/bench_webhook_load.py).
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from textual.widgets import DataTable

from bench.bench_webhook_load import LOCKED, all_runs, check, report, summary
from bench.webhook_load import fire_process, hook_feeds, start_daemon, wait_settled
from peak_tui import daemon
from peak_tui.dispatcher import STOPPED_BEFORE_START, Dispatcher
from peak_tui.tui import make_app
from peak_tui.webhook import WebhookServer
from peak_tui.workspace import Workspace
from screens.data_sources import DataSourcesScreen

FEEDS, CALLS, SECONDS = 20, 200, 10.0
P99_BOUND_MS = 1000.0  # the target is 200 ms; CI machines are noisy


async def until(pilot: Any, check_fn: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Let the app run until `check_fn()` is truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check_fn()):
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        await pilot.pause(0.02)
    return value


async def reload(pilot: Any, screen: DataSourcesScreen) -> None:
    """Press F5 on Data Sources and wait until the list has been read again."""
    shown = screen.summaries
    await pilot.press("f5")
    await until(pilot, lambda: screen.summaries is not shown, "the feed list to reload")


def record_errors(app: Any, errors: list[str], monkeypatch: Any) -> None:
    """Keep every warning/error the app shows (notifications and failure modals)."""
    notify, show_error = app.notify, app.show_error

    def noting(message: Any, **kw: Any) -> None:
        if kw.get("severity") in ("error", "warning"):
            errors.append(str(message))
        notify(message, **kw)

    def showing(error: BaseException | None, *args: Any, **kw: Any) -> None:
        errors.append(repr(error))
        show_error(error, *args, **kw)

    monkeypatch.setattr(app, "notify", noting)
    monkeypatch.setattr(app, "show_error", showing)


def cli_loop(cli: Any, stop: threading.Event, results: list[tuple[float, float, Any]]) -> None:
    """Alternate `runs --json` and `feed list --json` until told to stop; (start, end, result)."""
    calls = [("runs", "--json", "--limit", "50"), ("feed", "list", "--json")]
    while not stop.is_set():
        start = time.monotonic()
        result = cli(*calls[len(results) % 2], timeout=60)
        results.append((start, time.monotonic(), result))


async def test_tui_cli_and_daemon_under_webhook_load(ws: Workspace, cli: Any,
                                                      monkeypatch: Any) -> None:
    paths = hook_feeds(ws, FEEDS)
    ws.envs.ensure([])
    status = start_daemon(ws)
    calls: list[Any] = []
    cli_results: list[tuple[float, float, Any]] = []
    stop_cli = threading.Event()
    errors: list[str] = []
    try:
        app = make_app(ws.home)
        record_errors(app, errors, monkeypatch)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await until(pilot, lambda: isinstance(app.screen, DataSourcesScreen)
                                 and app.screen.loaded and app.screen, "the feed list")
            load = threading.Thread(target=lambda: calls.extend(
                fire_process(status.url, paths, CALLS, SECONDS)))
            reader = threading.Thread(target=cli_loop, args=(cli, stop_cli, cli_results))
            load_start = time.monotonic()
            load.start()
            reader.start()
            refreshes = 0
            while load.is_alive():  # refresh Data Sources (F5) again and again during the load
                await reload(pilot, screen)
                refreshes += 1
            load_end = time.monotonic()
            await asyncio.to_thread(wait_settled, ws, calls)
            stop_cli.set()
            await asyncio.to_thread(reader.join, 90)
            await reload(pilot, screen)
            table = screen.query_one("#feed-table", DataTable)
            statuses = {name: str(table.get_row(name)[2]) for name in paths}
            await until(pilot, lambda: "scheduler on" in app.sub_title, "the header to see the daemon")
    finally:
        stop_cli.set()
        daemon.stop_daemon(ws)

    figures = summary(calls, all_runs(ws))
    print(f"\n{report(figures)}\nTUI refreshes during the load: {refreshes}; CLI reads: "
          f"{len(cli_results)}")
    cli_text = [r.out + r.err for _, _, r in cli_results]
    assert check(ws, calls, cli_text + errors) == []
    assert figures["accepted"] + figures["skipped"] == CALLS and figures["accepted"] >= FEEDS
    assert figures["p99_ms"] < P99_BOUND_MS, report(figures)
    # the TUI kept up: it reloaded many times, shows every feed's last run, and reported no error
    assert refreshes >= 5 and errors == []
    assert statuses == {name: "✓ succeeded" for name in paths}
    assert not (ws.home / "logs" / "tui-errors.log").exists()
    # the CLI read the workspace during the load, always successfully
    assert sum(1 for start, end, _ in cli_results if start < load_end and end > load_start) >= 3
    for _, _, r in cli_results:
        assert r.code == 0 and r.err == "" and LOCKED not in r.out, r
        json.loads(r.out)
    log = daemon.log_path(ws).read_text()
    assert "Traceback" not in log and LOCKED not in log


def test_runs_queued_behind_busy_workers_are_never_lost(ws: Workspace) -> None:
    """With one worker, calls to other feeds answer at once with a queued run id; stopping the
    dispatcher closes those runs as skipped, saying why, instead of leaving them queued."""
    paths = hook_feeds(ws, 3, script="import time\ntime.sleep(1.5)\n")
    ws.envs.ensure([])
    dispatcher = Dispatcher(ws, workers=1)
    server = WebhookServer(ws, dispatcher, "127.0.0.1", 0).start()
    try:
        answers = [requests.post(server.url + paths[name], timeout=30) for name in sorted(paths)]
    finally:
        server.stop()
        dispatcher.shutdown(grace=30)
    first, *queued = [a.json() for a in answers]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert first["status"] == "running" and [q["status"] for q in queued] == ["queued", "queued"]
    assert max(a.elapsed.total_seconds() for a in answers[1:]) < 1.0  # no waiting for a worker
    assert ws.runs.get(first["run_id"]).status == "succeeded"
    for q in queued:
        run = ws.runs.get(q["run_id"])
        assert (run.status, run.error, run.trigger) == ("skipped", STOPPED_BEFORE_START, "webhook")
    assert ws.runs.active() == [] and len(all_runs(ws)) == 3
