"""The Snowflake destination against fakesnow (in-process): tables, VARIANT, audit columns, schema
evolution, failed rows, chunked staging and the load + commit-row transaction."""
from __future__ import annotations

import pytest

from peak_tui import warehouse
from peak_tui.destinations import snowflake_load as sf
from peak_tui.destinations import snowflake_sql as q
from peak_tui.destinations.snowflake import SnowflakeDestination
from peak_tui.errors import DestinationError
from peak_tui.execution import run_feed
from tests.services import SNOWFLAKE_VALUES


def _dest(ws) -> SnowflakeDestination:  # type: ignore[no-untyped-def]
    return SnowflakeDestination(ws, warehouse.validate("snowflake", dict(SNOWFLAKE_VALUES)))


def _sql(dest: SnowflakeDestination, sql: str, params: tuple = ()) -> list[tuple]:
    conn = dest.connect()
    try:
        return conn.cursor().execute(sql, params).fetchall()
    finally:
        conn.close()


def test_demo_feed_runs_into_snowflake(demo_ws, fakesnow_db) -> None:
    ws = demo_ws
    warehouse.save(ws, "snowflake", dict(SNOWFLAKE_VALUES))
    feed = ws.feeds.get("demo_orders")
    feed.destination = {"type": "snowflake"}
    ws.feeds.save(feed)
    run = run_feed(ws, "demo_orders")
    assert run.status == "succeeded", run.error
    dest = ws.destination(feed.destination)
    rows = _sql(dest, 'SELECT COUNT(*), COUNT(DISTINCT "ID"), MIN("PEAKAUDITREQUESTID"), '
                      'MIN("PEAKAUDITFILENAME") FROM "STAGE"."DEMO_ORDERS"')
    assert rows == [(250, 250, run.request_id, f"demo_orders/{run.request_id}/part-00000")]
    sku = _sql(dest, 'SELECT "ITEMS"[0]:sku FROM "STAGE"."DEMO_ORDERS" WHERE "ID" = 1')[0][0]
    assert sku.strip('"').startswith("SKU-")  # nested values are VARIANT, queryable by path
    types = {r[0]: r[1] for r in _sql(dest, q.COLUMNS_QUERY, ("STAGE", "DEMO_ORDERS"))}
    assert types["ITEMS"] == "VARIANT" and types["CUSTOMER"] == "VARIANT"
    assert types["PEAKAUDITCREATEDAT"] == "TIMESTAMP_TZ" and types["TOTAL"] == "FLOAT"
    assert dest.last_commit("demo_orders").metadata == ws.feeds.metadata("demo_orders")
    assert dest.find_commit(run.request_id).records == 250
    assert not (ws.home / "staging" / f"snowflake-{run.request_id}").exists()


def test_chunks_evolution_and_failed_rows(ws, fakesnow_db, monkeypatch) -> None:
    monkeypatch.setattr(sf, "CHUNK_RECORDS", 3)
    dest = _dest(ws)
    load = dest.begin("events", "r1")
    load.write([{"id": i, "note": f"n{i}"} for i in range(10)])
    assert load.commit({"n": 1}) == 10
    files = _sql(dest, 'SELECT COUNT(DISTINCT "PEAKAUDITFILENAME") FROM "STAGE"."EVENTS"')
    assert files == [(4,)]
    load = dest.begin("events", "r2")
    load.write([{"id": 10, "extra": {"a": [1, 2]}, "flag": True}, {"id": 11, "flag": False}])
    assert load.commit({"n": 2}) == 2
    got = _sql(dest, 'SELECT "EXTRA":a[1], "FLAG" FROM "STAGE"."EVENTS" WHERE "ID" = 10')
    assert got == [("2", True)]

    bad = dest.begin("events", "r3")
    bad.write([{"id": "x"}, {"id": 12}, {"ID": 13, "id": 14}])
    with pytest.raises(DestinationError, match="2 of 3 rows"):
        bad.commit({"n": 3})
    bad.abort()
    reasons = bad.failed.path.read_text()
    assert "column ID is NUMBER(38,0)" in reasons and "both map to column ID" in reasons
    assert dest.find_commit("r3") is None
    assert _sql(dest, 'SELECT COUNT(*) FROM "STAGE"."EVENTS"') == [(12,)]


def test_load_and_commit_row_are_one_transaction(ws, fakesnow_db, monkeypatch) -> None:
    dest = _dest(ws)
    load = dest.begin("orders", "r1")
    load.write([{"id": 1}, {"id": 2}])
    monkeypatch.setattr(q, "insert_commit", lambda schema: "INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(DestinationError, match="Snowflake load"):
        load.commit({"c": 1})
    load.abort()
    monkeypatch.undo()
    assert _sql(dest, 'SELECT COUNT(*) FROM "STAGE"."ORDERS"') == [(0,)]  # rolled back with it
    assert dest.last_commit("orders") is None
    for _ in range(2):  # committing the same run again finds its commit row and loads nothing
        load = dest.begin("orders", "r2")
        load.write([{"id": 1}, {"id": 2}])
        assert load.commit({"c": 2}) == 2
    assert _sql(dest, 'SELECT COUNT(*) FROM "STAGE"."ORDERS"') == [(2,)]
    assert dest.last_commit("orders").metadata == {"c": 2}


def test_check_reports_the_session(ws, fakesnow_db) -> None:
    verdict = _dest(ws).check()
    assert verdict.startswith("Snowflake peak-test") and "schema STAGE ready" in verdict


FLAKY = """\
import requests
from lib import outputStream, metadata

run = metadata.get("run", 0)
for i in range(4):
    outputStream.write({"id": i if run == 0 or i % 2 else "bad%d" % i})
metadata.save({"run": run + 1})
"""


def test_run_feed_keeps_failed_rows_and_honours_the_threshold(ws, fakesnow_db) -> None:
    from peak_tui.models import Connection, Feed

    warehouse.save(ws, "snowflake", dict(SNOWFLAKE_VALUES))
    ws.connections.add(Connection(name="src"))
    ws.feeds.save(Feed(name="flaky", connection="src", script=FLAKY, failed_row_threshold=0.5,
                       destination={"type": "snowflake"}))
    assert run_feed(ws, "flaky").status == "succeeded"
    run = run_feed(ws, "flaky")  # 2 of 4 rows do not fit the NUMBER column: 50% is allowed
    assert run.status == "succeeded" and run.failed_rows == 2
    path = ws.home / "failed_rows" / f"{run.request_id}.jsonl"
    assert path.exists() and str(path) in ws.runs.logs(run.id)
    feed = ws.feeds.get("flaky")
    feed.failed_row_threshold = 0.25
    ws.feeds.save(feed)
    failed = run_feed(ws, "flaky")
    assert failed.status == "failed" and "above the feed's failed_row_threshold of 25.00%" in failed.error
    assert ws.feeds.metadata("flaky") == {"run": 2}
    assert _sql(_dest(ws), 'SELECT COUNT(*) FROM "STAGE"."FLAKY"') == [(6,)]
