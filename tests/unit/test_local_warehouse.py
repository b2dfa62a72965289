"""The local warehouse: a table per feed, inferred columns, JSON for nested values, audit columns, read-only SQL."""
from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from peak_tui.errors import PeakError
from peak_tui.execution import run_feed
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

READ_ONLY = ("peak-tui sql is read-only: the local warehouse only changes through feed runs "
             "(statement refused)")

FIRST = """\
from lib import outputStream
outputStream.write({"id": 1, "name": "a", "tags": ["x", "y"], "address": {"city": "Oslo", "geo": [1.5, 2]}})
outputStream.write({"id": 2, "name": None, "score": 9.5, "ok": True})
"""
SECOND = """\
from lib import outputStream
outputStream.write({"id": 3, "name": "c", "Extra_Col": "new", "NAME": "dup-case"})
outputStream.write({"id": 4, "NAME": "only-upper"})
"""


def test_tables_columns_nested_values_and_audit(ws: Workspace) -> None:
    ws.connections.add(Connection(name="api"))
    ws.feeds.save(Feed(name="people", connection="api", script=FIRST))
    ws.feeds.save(Feed(name="Other_feed", connection="api", script="from lib import outputStream\n"
                                                                   "outputStream.write({'v': 1})\n"))
    first = run_feed(ws, "people")
    assert first.status == "succeeded" and first.records == 2
    assert run_feed(ws, "Other_feed").status == "succeeded"
    assert ws.local.tables() == ["Other_feed", "people"]
    cols, info = ws.local.query("PRAGMA table_info(people)")
    names = [row[1] for row in info]
    assert cols[1] == "name"
    assert names == ["peakauditcreatedat", "peakauditrequestid", "id", "name", "tags", "address",
                     "score", "ok"]
    cols, rows = ws.local.query("SELECT * FROM people ORDER BY id")
    got = [dict(zip(cols, r, strict=True)) for r in rows]
    assert json.loads(got[0]["tags"]) == ["x", "y"]
    assert json.loads(got[0]["address"]) == {"city": "Oslo", "geo": [1.5, 2]}
    assert (got[0]["score"], got[1]["score"], got[1]["name"], got[1]["ok"]) == (None, 9.5, None, 1)
    assert {r["peakauditrequestid"] for r in got} == {first.request_id}
    created = datetime.fromisoformat(got[0]["peakauditcreatedat"])
    assert created.tzinfo is not None and created.year >= 2025

    ws.feeds.save(Feed(name="people", connection="api", script=SECOND))
    second = run_feed(ws, "people")
    assert second.status == "succeeded", second.error
    names = [row[1] for row in ws.local.query("PRAGMA table_info(people)")[1]]
    # SQLite names ignore case: NAME next to name in one run gets its own column, NAME_2
    assert names[-2:] == ["Extra_Col", "NAME_2"] and "NAME" not in names
    cols, rows = ws.local.query("SELECT id, name, Extra_Col, NAME_2, peakauditrequestid FROM people "
                                "ORDER BY id")
    assert rows == [(1, "a", None, None, first.request_id), (2, None, None, None, first.request_id),
                    (3, "c", "new", "dup-case", second.request_id),
                    (4, None, None, "only-upper", second.request_id)]


REFUSED = [
    "INSERT INTO t(a) VALUES (1)",
    "UPDATE t SET a = 2",
    "DELETE FROM t",
    "DROP TABLE t",
    "CREATE TABLE x (a)",
    "CREATE TEMP TABLE x (a)",
    "ATTACH DATABASE ':memory:' AS other",
    "VACUUM INTO 'copy.db'",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA user_version=7",
    "ALTER TABLE t ADD COLUMN b",
    "REINDEX",
]


@pytest.fixture
def loaded(ws: Workspace) -> Workspace:
    ws.connections.add(Connection(name="api"))
    ws.feeds.save(Feed(name="t", connection="api",
                       script="from lib import outputStream\noutputStream.write({'a': 1})\n"))
    assert run_feed(ws, "t").status == "succeeded"
    return ws


def test_writes_are_refused_clearly(loaded: Workspace) -> None:
    wrong = {}
    for sql in REFUSED:
        try:
            loaded.local.query(sql)
            wrong[sql] = "accepted"
        except PeakError as e:
            if (e.title, e.message) != ("Read-only", READ_ONLY):
                wrong[sql] = f"{e.title}: {e.message}"
    assert wrong == {}
    assert loaded.local.query("SELECT a FROM t") == (["a"], [(1,)])
    assert loaded.local.tables() == ["t"] and not (loaded.home / "copy.db").exists()


def test_sql_errors_are_clear(loaded: Workspace) -> None:
    with pytest.raises(PeakError) as info:
        loaded.local.query("SELEC 1")
    assert info.value.message == 'SQL error: near "SELEC": syntax error'
    with pytest.raises(PeakError) as info:
        loaded.local.query("SELECT 1; DROP TABLE t")
    assert info.value.message == "SQL error: You can only execute one statement at a time."
    with pytest.raises(PeakError) as info:
        loaded.local.query("SELECT * FROM nope")
    assert info.value.message == "SQL error: no such table: nope"


def test_sql_command_json_and_refusal(loaded: Workspace, cli: Callable[..., object]) -> None:
    ok = cli("sql", "SELECT a, peakauditrequestid AS rid FROM t", "--json")
    assert ok.code == 0, ok
    rows = ok.json()
    run = loaded.runs.list("t")[0]
    assert rows == [{"a": 1, "rid": run.request_id}]
    bad = cli("sql", "DROP TABLE t")
    assert (bad.code, bad.out) == (1, "")
    assert bad.err == f"error: Read-only: {READ_ONLY}\n"
    assert loaded.local.tables() == ["t"]
