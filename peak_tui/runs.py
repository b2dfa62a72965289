"""Run records: one row per run with status, counts and error, plus its stored (bounded) log."""
from __future__ import annotations

import builtins
import os
import socket
from typing import TYPE_CHECKING, Any

from peak_tui.errors import NotFound
from peak_tui.models import Run
from peak_tui.store import dumps, loads, now_iso

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

FINAL_STATUSES = ("succeeded", "failed", "cancelled", "skipped")


def owner_tag() -> str:
    """Which process owns a run, for humans reading the table."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _row_to_run(r: dict[str, Any]) -> Run:
    return Run(
        id=r["id"], request_id=r["request_id"], feed=r["feed"], trigger=r["trigger"], status=r["status"],
        queued_at=r["queued_at"], started_at=r["started_at"], ended_at=r["ended_at"],
        records=r["records"], failed_rows=r["failed_rows"], error=r["error"],
        metadata_before=loads(r["metadata_before"]), metadata_after=loads(r["metadata_after"]),
        catch_up=bool(r["catch_up"]),
    )


class Runs:
    """Create, finish and read runs."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.store = ws.store

    def start(self, feed: str, trigger: str, request_id: str, metadata_before: Any,
              *, catch_up: bool = False, status: str = "running") -> int:
        """Record a run as running (or queued) and make it the feed's last run."""
        now = now_iso()
        with self.store.write() as c:
            cur = c.execute(
                "INSERT INTO runs(request_id, feed, trigger, status, queued_at, started_at, "
                "metadata_before, catch_up, owner) VALUES (?,?,?,?,?,?,?,?,?)",
                (request_id, feed, trigger, status, now, now if status == "running" else None,
                 dumps(metadata_before), int(catch_up), owner_tag()),
            )
            run_id = int(cur.lastrowid or 0)
            c.execute("UPDATE feeds SET last_run_id=? WHERE name=?", (run_id, feed))
        return run_id

    def mark_running(self, run_id: int, metadata_before: Any = None) -> None:
        """A queued run has started (with the metadata it starts from, when given)."""
        with self.store.write() as c:
            c.execute("UPDATE runs SET status='running', started_at=?, "
                      "metadata_before=coalesce(?, metadata_before) WHERE id=?",
                      (now_iso(), None if metadata_before is None else dumps(metadata_before), run_id))

    def record_skipped(self, feed: str, trigger: str, reason: str, request_id: str) -> int:
        """A trigger fired but the run could not start (already running, paused)."""
        now = now_iso()
        with self.store.write() as c:
            cur = c.execute(
                "INSERT INTO runs(request_id, feed, trigger, status, queued_at, started_at, ended_at, "
                "error, owner) VALUES (?,?,?,?,?,?,?,?,?)",
                (request_id, feed, trigger, "skipped", now, now, now, reason, owner_tag()),
            )
            return int(cur.lastrowid or 0)

    def finish(self, run_id: int, status: str, *, records: int = 0, failed_rows: int = 0,
               error: str | None = None, metadata_after: Any = None, log_text: str | None = None,
               log_size: int = 0, log_truncated: bool = False,
               committed: tuple[str, Any] | None = None, ended_at: str | None = None) -> None:
        """Close a run; a committed run also moves the feed's metadata, in the same transaction."""
        with self.store.write() as c:
            row = c.execute("SELECT feed FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                raise NotFound(f"no run #{run_id}")
            c.execute(
                "UPDATE runs SET status=?, ended_at=?, records=?, failed_rows=?, error=?, "
                "metadata_after=? WHERE id=?",
                (status, ended_at or now_iso(), records, failed_rows, error, dumps(metadata_after), run_id),
            )
            if log_text is not None:
                c.execute(
                    "INSERT INTO run_logs(run_id, text, size, truncated) VALUES (?,?,?,?) "
                    "ON CONFLICT(run_id) DO UPDATE SET text=excluded.text, size=excluded.size, "
                    "truncated=excluded.truncated",
                    (run_id, log_text, log_size or len(log_text), int(log_truncated)),
                )
            if committed is not None:
                request_id, metadata = committed
                c.execute(
                    "UPDATE feeds SET metadata=?, metadata_request_id=? WHERE name=?",
                    (dumps(metadata), request_id, row["feed"]),
                )

    def write_log(self, run_id: int, text: str, size: int, truncated: bool) -> None:
        """Store (or replace) a run's log, e.g. while it is still running."""
        with self.store.write() as c:
            c.execute(
                "INSERT INTO run_logs(run_id, text, size, truncated) VALUES (?,?,?,?) "
                "ON CONFLICT(run_id) DO UPDATE SET text=excluded.text, size=excluded.size, "
                "truncated=excluded.truncated",
                (run_id, text, size, int(truncated)),
            )

    def get(self, run_id: int) -> Run:
        """One run by id."""
        r = self.store.query_one("SELECT * FROM runs WHERE id=?", (run_id,))
        if r is None:
            raise NotFound(f"no run #{run_id}")
        return _row_to_run(r)

    def by_request_id(self, request_id: str) -> Run | None:
        """A run by its request id."""
        r = self.store.query_one("SELECT * FROM runs WHERE request_id=?", (request_id,))
        return _row_to_run(r) if r else None

    def list(self, feed: str | None = None, *, limit: int = 100, status: str | None = None) -> list[Run]:
        """Newest runs first, optionally of one feed or status."""
        where, args = [], []
        if feed:
            where.append("feed=?")
            args.append(feed)
        if status:
            where.append("status=?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.store.query(f"SELECT * FROM runs {clause} ORDER BY id DESC LIMIT ?", (*args, limit))
        return [_row_to_run(r) for r in rows]

    def logs(self, run_id: int) -> str:
        """The stored log of a run."""
        self.get(run_id)
        r = self.store.query_one("SELECT text FROM run_logs WHERE run_id=?", (run_id,))
        return r["text"] if r else ""

    def active(self) -> builtins.list[Run]:
        """Runs that are queued or running."""
        rows = self.store.query("SELECT * FROM runs WHERE status IN ('queued','running') ORDER BY id")
        return [_row_to_run(r) for r in rows]
