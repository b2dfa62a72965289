"""Fixed workspaces for the app's Pilot and snapshot tests, and polling helpers (never sleep)."""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable

from peak_tui.models import Connection, Feed
from peak_tui.store import dumps
from peak_tui.workspace import Workspace

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SCRIPT = "import requests\nfrom lib import outputStream, metadata\noutputStream.write({'id': 1})\n"
STORED_LOG = "\n".join([
    "[peak] run #{id} of feed orders (schedule), request id 0f0f",
    "[peak] environment: dependencies none beyond requests",
    "[peak] environment ready in 0.05 s",
    "page 1: 50 orders",
    "page 2: 50 orders",
    "",
    "Traceback (most recent call last):",
    '  File "orders.py", line 14, in <module>',
    "    response.raise_for_status()",
    "requests.exceptions.HTTPError: 500 Server Error for url: http://api.example/orders?page=3",
    "[peak] run failed: requests.exceptions.HTTPError: 500 Server Error; nothing was loaded",
])


def iso(t: datetime) -> str:
    """The store's timestamp format."""
    return t.isoformat(timespec="microseconds")


DEFAULTS = (None, None, "schedule", "succeeded", None, None, None, 0, 0, None, "{}", "{}", 0, "test")


def insert_runs(ws: Workspace, rows: list[dict[str, Any]]) -> None:
    """Insert finished runs directly (fixed times, fast), then point each feed at its newest run."""
    cols = ("request_id", "feed", "trigger", "status", "queued_at", "started_at", "ended_at",
            "records", "failed_rows", "error", "metadata_before", "metadata_after", "catch_up", "owner")
    with ws.store.write() as c:
        c.executemany(
            f"INSERT INTO runs({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [tuple(r.get(k, d) for k, d in zip(cols, DEFAULTS, strict=True)) for r in rows])
        c.execute("UPDATE feeds SET last_run_id=(SELECT max(id) FROM runs WHERE runs.feed=feeds.name)")


def run_row(feed: str, start: datetime, seconds: float, records: int, status: str = "succeeded",
            error: str | None = None, trigger: str = "schedule") -> dict[str, Any]:
    """One finished run."""
    return {"request_id": uuid.uuid4().hex, "feed": feed, "trigger": trigger, "status": status,
            "queued_at": iso(start), "started_at": iso(start),
            "ended_at": iso(start + timedelta(seconds=seconds)), "records": records, "error": error,
            "metadata_before": dumps({"updated_since": "2026-03-01T00:00:00Z"}),
            "metadata_after": dumps({"updated_since": "2026-03-02T00:00:00Z"}) if status == "succeeded"
            else None}


def seed(ws: Workspace) -> Workspace:
    """Four feeds on two connections with a fixed run history; the same every time."""
    ws.connections.add(Connection(name="shop", auth_type="none"))
    ws.connections.add(Connection(name="crm", auth_type="basic", username="u", password="secret-pw"))
    ws.feeds.save(Feed(name="orders", connection="shop", script=SCRIPT, tags=["sales", "daily"],
                       trigger={"type": "schedule", "cron": "0 0 6 * * ?", "timezone": "UTC"}))
    ws.feeds.save(Feed(name="customers", connection="crm", script=SCRIPT, tags=["crm"], paused=True))
    ws.feeds.save(Feed(name="invoices", connection="shop", script=SCRIPT, tags=["sales"]))
    ws.feeds.save(Feed(name="events", connection="shop", script=SCRIPT, tags=["web"],
                       trigger={"type": "webhook"}))
    runs = [run_row("orders", T0 - timedelta(days=12 - i), 1.0 + (i % 4) * 0.7, 200 + 35 * i)
            for i in range(11)]
    runs.append(run_row("orders", T0, 2.5, 0, "failed",
                        "requests.exceptions.HTTPError: 500 Server Error for url: "
                        "http://api.example/orders?page=3"))
    runs.append(run_row("customers", T0 - timedelta(hours=5), 0.8, 25, trigger="manual"))
    runs.append(run_row("events", T0 - timedelta(hours=2), 3.1, 0, "failed", "timed out after 3600 s",
                        trigger="webhook"))
    insert_runs(ws, runs)
    with ws.store.write() as c:
        c.execute("UPDATE feeds SET next_run_at=? WHERE name='orders'", (iso(T0 + timedelta(hours=22)),))
        last = c.execute("SELECT max(id) FROM runs WHERE feed='orders'").fetchone()[0]
        c.execute("INSERT INTO run_logs(run_id, text, size) VALUES (?,?,?)",
                  (last, STORED_LOG.format(id=last) + "\n", len(STORED_LOG)))
    return ws


def bulk(ws: Workspace, feeds: int = 1000, runs: int = 100_000) -> None:
    """Many feeds and runs, generated inside SQLite (about a second for 100,000 runs)."""
    ws.connections.add(Connection(name="bulk", auth_type="none"))
    cfg = dumps({"script": SCRIPT, "dependencies": [], "load_type": "incremental",
                 "destination": {"type": "local"}, "trigger": {"type": "manual"}, "watchers": []})
    now = iso(T0)
    start = ("strftime('%Y-%m-%dT%H:%M:%S', '2026-03-02 08:00:00', printf('-%d minutes', j)) "
             "|| '.000000+00:00'")
    end = ("strftime('%Y-%m-%dT%H:%M:%S', '2026-03-02 08:00:00', printf('-%d minutes', j), "
           "'+2 seconds') || '.000000+00:00'")
    with ws.store.write() as c:
        c.executemany("INSERT INTO feeds(name, connection, config, tags, created_at, updated_at) "
                      "VALUES (?,?,?,?,?,?)",
                      [(f"feed_{i:04d}", "bulk", cfg, dumps([f"team{i % 7}"]), now, now)
                       for i in range(feeds)])
        c.execute(
            "WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM n WHERE j + 1 < ?) "
            "INSERT INTO runs(request_id, feed, trigger, status, queued_at, started_at, ended_at, "
            "records, metadata_before, metadata_after, owner) "
            "SELECT printf('bulk%08d', j), printf('feed_%04d', j % ?), 'schedule', "
            "CASE WHEN j % 13 = 0 THEN 'failed' ELSE 'succeeded' END, "
            f"{start}, {start}, {end}, "
            "j % 500, '{}', '{}', 'test' FROM n", (runs, feeds))
        c.execute("UPDATE feeds SET last_run_id=(SELECT max(id) FROM runs WHERE runs.feed=feeds.name)")


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], Any], timeout: float = 20.0,
                   what: str = "condition") -> Any:
    """Let the app run until `predicate()` is truthy (polling), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.02)
    return value


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for every worker to finish, the messages they posted to be handled, and every table on
    the screen stack to have measured its columns (DataTable does that when it next goes idle)."""
    app = pilot.app
    for _ in range(5):
        await app.workers.wait_for_complete()
        await pilot.pause()
        if not any(not w.is_finished for w in app.workers):
            break
    tables = [t for screen in app.screen_stack for t in screen.query(DataTable)]
    await wait_for(pilot, lambda: not any(t._require_update_dimensions or t._updated_cells
                                          for t in tables), what="tables to measure their columns")
    for table in tables:
        table.refresh()
    # let a frame be painted: a screen under a modal is not repainted once the modal is up
    await pilot.pause(3 / 60)
