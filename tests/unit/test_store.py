"""The workspace database: WAL, busy timeout, forward-only migrations applied once, per-thread use."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from peak_tui import store as store_mod
from peak_tui.errors import PeakError
from peak_tui.store import Store
from peak_tui.workspace import Workspace


def test_wal_busy_timeout_and_foreign_keys(ws: Workspace) -> None:
    conn = ws.store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == store_mod.BUSY_TIMEOUT_MS >= 5000
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL is a property of the file: a plain sqlite3 connection sees it too
    raw = sqlite3.connect(ws.home / "peak.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


def test_schema_version_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "peak.db"
    first = Store(path)
    assert first.schema_version == len(store_mod.MIGRATIONS)
    first.set_setting("k", {"v": 1})
    # reopening must not re-run migration 1 (CREATE TABLE would fail) nor lose data
    second = Store(path)
    assert second.schema_version == len(store_mod.MIGRATIONS)
    assert second.get_setting("k") == {"v": 1}
    tables = {r["name"] for r in second.query("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"settings", "connections", "feeds", "runs", "run_logs"} <= tables


def test_new_migration_is_applied_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "peak.db"
    Store(path).set_setting("before", True)
    extra = "CREATE TABLE extra_one (x INTEGER); INSERT INTO extra_one VALUES (42)"
    monkeypatch.setattr(store_mod, "MIGRATIONS", [*store_mod.MIGRATIONS, extra])
    upgraded = Store(path)
    assert upgraded.schema_version == len(store_mod.MIGRATIONS)
    assert upgraded.query("SELECT x FROM extra_one") == [{"x": 42}]
    again = Store(path)  # a second open applies nothing: still one row
    assert again.query("SELECT count(*) AS n FROM extra_one") == [{"n": 1}]
    assert again.get_setting("before") is True


def test_database_from_the_future_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "peak.db"
    Store(path).close()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(PeakError) as info:
        Store(path)
    n = len(store_mod.MIGRATIONS)
    assert info.value.message == (
        f"the workspace database {path} is schema version 99, newer than this peak-tui "
        f"understands ({n}); upgrade peak-tui")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 99  # left as it was
    raw.close()


def test_each_thread_has_its_own_connection(ws: Workspace) -> None:
    main_conn = ws.store.conn
    assert ws.store.conn is main_conn
    seen: list[sqlite3.Connection] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            seen.append(ws.store.conn)
            ws.store.set_setting(f"thread.{i}", i)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({id(c) for c in seen}) == 8 and main_conn not in seen
    assert [ws.store.get_setting(f"thread.{i}") for i in range(8)] == list(range(8))


def test_write_rolls_back_on_error_and_nests(ws: Workspace) -> None:
    with pytest.raises(RuntimeError):
        with ws.store.write() as c:
            c.execute("INSERT INTO settings(key, value) VALUES ('gone', '1')")
            raise RuntimeError("boom")
    assert ws.store.get_setting("gone") is None
    with ws.store.write() as c:
        c.execute("INSERT INTO settings(key, value) VALUES ('outer', '1')")
        with ws.store.write() as inner:  # joins the outer transaction
            inner.execute("INSERT INTO settings(key, value) VALUES ('inner', '2')")
    assert (ws.store.get_setting("outer"), ws.store.get_setting("inner")) == (1, 2)


def test_writer_waits_for_another_writer_instead_of_failing(ws: Workspace) -> None:
    """A second connection holding the write lock briefly: our write waits, no 'database is locked'."""
    other = sqlite3.connect(ws.home / "peak.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO settings(key, value) VALUES ('other', '1')")
    done = threading.Event()

    def write() -> None:
        ws.store.set_setting("mine", 2)
        done.set()

    t = threading.Thread(target=write)
    t.start()
    assert not done.wait(0.3)  # blocked behind the other writer
    other.execute("COMMIT")
    t.join(timeout=30)
    other.close()
    assert done.is_set()
    assert (ws.store.get_setting("other"), ws.store.get_setting("mine")) == (1, 2)
