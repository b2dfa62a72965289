"""The embedded local warehouse: one SQLite file, one table per feed, exactly-once commits.

A run stages its records in a private SQLite file (no lock on the warehouse while the script runs),
then one short transaction on the warehouse copies them in and writes the run's commit row with its
metadata. Only the warehouse file is written in that transaction, so it is atomic even though the
staging file is attached (SQLite is not atomic across attached files in WAL mode).
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson

from peak_tui import faults
from peak_tui.destinations.base import (
    AUDIT_CREATED_AT,
    AUDIT_REQUEST_ID,
    Commit,
    Destination,
    Load,
    json_type,
)
from peak_tui.errors import DestinationError, PeakError

BUSY_MS = 60_000


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


# Nested objects and arrays are stored as JSON text. sqlite3 consults adapters only for types it
# cannot bind natively, so registering dict and list costs the scalar hot path nothing.
sqlite3.register_adapter(dict, _json_text)
sqlite3.register_adapter(list, _json_text)


def quote(name: str) -> str:
    """Quote an SQLite identifier."""
    return '"' + name.replace('"', '""') + '"'


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
    return conn


class LocalWarehouse(Destination):
    """The local warehouse at `<workspace>/warehouse/local.db`."""

    kind = "local"

    def __init__(self, path: Path, staging_dir: Path) -> None:
        self.path = Path(path)
        self.staging_dir = Path(staging_dir)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        conn = _connect(self.path)
        try:
            for attempt in range(50):
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.05 * (attempt + 1))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _peak_commits (request_id TEXT PRIMARY KEY, feed TEXT "
                "NOT NULL, metadata TEXT NOT NULL, records INTEGER NOT NULL, committed_at TEXT NOT NULL)"
            )
            conn.execute("CREATE INDEX IF NOT EXISTS _peak_commits_feed ON _peak_commits(feed)")
        finally:
            conn.close()

    def begin(self, feed: str, request_id: str) -> LocalLoad:
        """Stage a run's records in a private file."""
        return LocalLoad(self, feed, request_id)

    def _commit_row(self, where: str, arg: str) -> Commit | None:
        conn = _connect(self.path)
        try:
            row = conn.execute(
                "SELECT request_id, feed, metadata, records, committed_at FROM _peak_commits "
                f"WHERE {where} ORDER BY rowid DESC LIMIT 1",
                (arg,),
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        return Commit(row[0], row[1], json.loads(row[2]), row[3], row[4])

    def last_commit(self, feed: str) -> Commit | None:
        """The newest commit of a feed."""
        return self._commit_row("feed = ?", feed)

    def find_commit(self, request_id: str) -> Commit | None:
        """The commit of one run."""
        return self._commit_row("request_id = ?", request_id)

    def check(self) -> str:
        """The local warehouse is a file: check it opens."""
        conn = _connect(self.path)
        try:
            n = conn.execute("SELECT count(*) FROM _peak_commits").fetchone()[0]
        finally:
            conn.close()
        return f"local warehouse at {self.path}: {n} committed loads"

    def tables(self) -> list[str]:
        """The feed tables."""
        conn = _connect(self.path)
        try:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE '\\_peak%' "
                "ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name"
            ).fetchall()
        finally:
            conn.close()
        return [r[0] for r in rows]

    def query(self, sql: str, params: Any = ()) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run read-only SQL; writes are refused with a clear message."""
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_MS / 1000)
        conn.execute("PRAGMA query_only=1")
        conn.set_authorizer(_read_only_authorizer)
        try:
            cur = conn.execute(sql, params)
            cols = [d[0] for d in cur.description or []]
            return cols, cur.fetchall()
        except sqlite3.DatabaseError as e:
            msg = str(e)
            if ("not authorized" in msg or "authorization denied" in msg or "readonly" in msg
                    or "read-only" in msg):  # VACUUM INTO says "authorization denied"
                raise PeakError(
                    "peak-tui sql is read-only: the local warehouse only changes through feed runs "
                    "(statement refused)",
                    title="Read-only",
                ) from None
            raise PeakError(f"SQL error: {msg}", title="SQL error") from None
        finally:
            conn.close()


_ALLOWED_ACTIONS = {
    sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE,
}
_ALLOWED_PRAGMAS = {"table_info", "table_xinfo", "index_list", "index_info", "table_list"}


def _read_only_authorizer(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and arg1 in _ALLOWED_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


class LocalLoad(Load):
    """Records of one run, staged in `<staging>/<request_id>.db` until commit."""

    def __init__(self, wh: LocalWarehouse, feed: str, request_id: str) -> None:
        self.wh = wh
        self.feed = feed
        self.request_id = request_id
        self.path = wh.staging_dir / f"{request_id}.db"
        self.path.unlink(missing_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("CREATE TABLE rows (c0)")
        self.conn.execute("BEGIN")
        self.keys: list[str] = []
        self.index: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self._columns_in_table = 1
        self._full_keys: tuple[str, ...] = ()
        self._plans: dict[tuple[str, ...], list[int]] = {}
        self.count = 0

    def _add_key(self, key: str) -> int:
        i = len(self.keys)
        self.keys.append(key)
        self.index[key] = i
        if i >= self._columns_in_table:
            self.conn.execute(f"ALTER TABLE rows ADD COLUMN c{i}")
            self._columns_in_table += 1
        return i

    def _flush(self, rows: list[Any], width: int) -> None:
        if not rows:
            return
        marks = ",".join("?" * width)
        cols = ",".join(f"c{i}" for i in range(width))
        sql = f"INSERT INTO rows ({cols}) VALUES ({marks})"
        try:
            self.conn.executemany(sql, rows)
        except OverflowError:  # integers beyond 64 bits: keep their digits as text
            fixed = [[str(v) if isinstance(v, int) and not -(2**63) <= v < 2**63 else v for v in r]
                     for r in rows]
            self.conn.executemany(sql, fixed)
        rows.clear()

    def write(self, records: list[dict[str, Any]]) -> None:
        """Stage a batch; new keys add columns.

        The hot path is a record whose keys are exactly the known columns in order: its values go
        in as they are (dicts and lists become JSON through the sqlite3 adapters registered below).
        Other key sets are mapped through a cached plan of column positions.
        """
        width = len(self.keys)
        full = self._full_keys
        plans = self._plans
        rows: list[Any] = []
        append = rows.append
        for rec in records:
            keys = tuple(rec)
            if keys == full:
                append(tuple(rec.values()))
                continue
            plan = plans.get(keys)
            if plan is None:
                for k in keys:
                    if k not in self.index:
                        self._flush(rows, width)
                        self._add_key(k)
                        self.types[k] = json_type(rec[k])
                width = len(self.keys)
                full = self._full_keys = tuple(self.keys)
                if keys == full:
                    append(tuple(rec.values()))
                    continue
                plan = plans[keys] = [self.index[k] for k in keys]
            row: list[Any] = [None] * width
            for i, val in zip(plan, rec.values(), strict=True):
                row[i] = val
            append(row)
        self._flush(rows, width)
        self.count += len(records)

    def commit(self, metadata: dict[str, Any]) -> int:
        """Copy the staged rows into the feed's table and write the commit row, in one transaction."""
        from peak_tui.store import now_iso

        self.conn.execute("COMMIT")
        self.conn.close()
        conn = _connect(self.wh.path)
        try:
            conn.execute("ATTACH DATABASE ? AS staging", (str(self.path),))
            conn.execute("BEGIN IMMEDIATE")
            try:
                done = conn.execute(
                    "SELECT 1 FROM _peak_commits WHERE request_id=?", (self.request_id,)
                ).fetchone()
                if done:
                    raise DestinationError(f"run {self.request_id} was already committed")
                targets = self._ensure_table(conn)
                now = now_iso()
                if self.keys:
                    cols = ",".join(quote(t) for t in targets)
                    src = ",".join(f"c{i}" for i in range(len(self.keys)))
                    conn.execute(
                        f"INSERT INTO main.{quote(self.feed)} ({cols}, {AUDIT_CREATED_AT}, "
                        f"{AUDIT_REQUEST_ID}) SELECT {src}, ?, ? FROM staging.rows",
                        (now, self.request_id),
                    )
                elif self.count:
                    conn.execute(
                        f"INSERT INTO main.{quote(self.feed)} ({AUDIT_CREATED_AT}, {AUDIT_REQUEST_ID}) "
                        "SELECT ?, ? FROM staging.rows",
                        (now, self.request_id),
                    )
                conn.execute(
                    "INSERT INTO _peak_commits(request_id, feed, metadata, records, committed_at) "
                    "VALUES (?,?,?,?,?)",
                    (self.request_id, self.feed, json.dumps(metadata), self.count, now),
                )
                faults.point("local.inside_commit")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # an I/O error in COMMIT (disk full) already rolled back
                    conn.execute("ROLLBACK")
                raise
            conn.execute("DETACH DATABASE staging")
        finally:
            conn.close()
            self.path.unlink(missing_ok=True)
        return self.count

    def _ensure_table(self, conn: sqlite3.Connection) -> list[str]:
        table = quote(self.feed)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS main.{table} ({AUDIT_CREATED_AT} TEXT, {AUDIT_REQUEST_ID} TEXT)"
        )
        existing = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        by_lower = {c.lower(): c for c in existing}
        # SQLite column names ignore case, and the audit columns are ours: a key that would land on
        # a column another key of this run already uses (or on an audit column) gets "<key>_2".
        used = {AUDIT_CREATED_AT, AUDIT_REQUEST_ID}
        targets = []
        for k in self.keys:
            name, n = k, 1
            while (by_lower.get(name.lower()) or name).lower() in used:
                n += 1
                name = f"{k}_{n}"
            col = by_lower.get(name.lower())
            if col is None:
                conn.execute(f"ALTER TABLE main.{table} ADD COLUMN {quote(name)}")
                by_lower[name.lower()] = col = name
            used.add(col.lower())
            targets.append(col)
        return targets

    def abort(self) -> None:
        """Drop the staging file; the warehouse never saw these records."""
        try:
            self.conn.close()
        except sqlite3.Error:
            pass
        self.path.unlink(missing_ok=True)

