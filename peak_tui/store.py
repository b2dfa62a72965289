"""The workspace database: SQLite in WAL mode, one connection per thread, versioned forward migrations.

Several processes share one workspace (TUI, CLI, daemon). Every write runs in `BEGIN IMMEDIATE` so a
writer takes the lock up front and waits on the busy timeout instead of failing with "database is
locked" when it would have had to upgrade a read lock.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite_utils

BUSY_TIMEOUT_MS = 60_000

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE connections (
        name TEXT PRIMARY KEY,
        auth_type TEXT NOT NULL,
        config TEXT NOT NULL,
        secrets TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE feeds (
        name TEXT PRIMARY KEY,
        connection TEXT NOT NULL REFERENCES connections(name),
        config TEXT NOT NULL,
        tags TEXT NOT NULL DEFAULT '[]',
        paused INTEGER NOT NULL DEFAULT 0,
        metadata TEXT NOT NULL DEFAULT '{}',
        metadata_request_id TEXT,
        env_key TEXT,
        webhook_token TEXT,
        webhook_secret TEXT,
        next_run_at TEXT,
        last_run_id INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX feeds_connection ON feeds(connection);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL UNIQUE,
        feed TEXT NOT NULL,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        queued_at TEXT NOT NULL,
        started_at TEXT,
        ended_at TEXT,
        records INTEGER NOT NULL DEFAULT 0,
        failed_rows INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        metadata_before TEXT,
        metadata_after TEXT,
        catch_up INTEGER NOT NULL DEFAULT 0,
        owner TEXT
    );
    CREATE INDEX runs_feed ON runs(feed, id);
    CREATE INDEX runs_status ON runs(status);
    CREATE TABLE run_logs (
        run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        size INTEGER NOT NULL,
        truncated INTEGER NOT NULL DEFAULT 0
    );
    """,
    # 2: the scheduler's per-feed state: when its trigger was set, and the last slot it handled
    """
    CREATE TABLE schedule_state (
        feed TEXT PRIMARY KEY,
        trigger_key TEXT NOT NULL,
        anchor TEXT NOT NULL,
        last_slot TEXT,
        last_fired_at TEXT,
        last_run_id INTEGER
    );
    """,
]


def now_iso() -> str:
    """The current UTC time as ISO-8601 with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def dumps(obj: Any) -> str:
    """Compact JSON for columns."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def loads(text: str | None, default: Any = None) -> Any:
    """Parse a JSON column, tolerating NULL."""
    if text is None:
        return default
    return json.loads(text)


class Store:
    """The workspace database, safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._migrate()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # journal_mode=WAL persists in the file; setting it needs a moment of exclusivity, so retry.
        for attempt in range(50):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                time.sleep(0.05 * (attempt + 1))
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._connect()
            self._local.conn = c
        return c

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection wrapped by sqlite-utils."""
        d = getattr(self._local, "db", None)
        if d is None:
            # imported here: sqlite_utils imports pandas when present (~1-4 s), which every CLI
            # command would otherwise pay for although almost none uses this property
            import sqlite_utils

            d = sqlite_utils.Database(self.conn)
            self._local.db = d
        return d

    def close(self) -> None:
        """Close this thread's connection."""
        c = getattr(self._local, "conn", None)
        if c is not None:
            c.close()
            self._local.conn = None
            self._local.db = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE)."""
        c = self.conn
        if c.in_transaction:  # nested: join the outer transaction
            yield c
            return
        for attempt in range(20):
            try:
                c.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        else:
            c.execute("COMMIT")

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        """Rows as dicts."""
        return [dict(r) for r in self.conn.execute(sql, params).fetchall()]

    def query_one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        """The first row as a dict, or None."""
        r = self.conn.execute(sql, params).fetchone()
        return dict(r) if r is not None else None

    def _migrate(self) -> None:
        with self.write() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                from peak_tui.errors import PeakError

                raise PeakError(
                    f"the workspace database {self.path} is schema version {version}, newer than this "
                    f"peak-tui understands ({len(MIGRATIONS)}); upgrade peak-tui"
                )
            for i in range(version, len(MIGRATIONS)):
                for stmt in _split_sql(MIGRATIONS[i]):
                    c.execute(stmt)
                c.execute(f"PRAGMA user_version={i + 1}")

    @property
    def schema_version(self) -> int:
        """The applied migration count."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # settings -----------------------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        """A workspace setting (JSON value)."""
        row = self.query_one("SELECT value FROM settings WHERE key=?", (key,))
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a workspace setting (JSON value)."""
        with self.write() as c:
            c.execute(
                "INSERT INTO settings(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, dumps(value)),
            )


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
