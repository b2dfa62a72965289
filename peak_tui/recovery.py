"""Crash recovery: runs whose process died are settled from the destination's commit log.

A live run holds a lock file named after its request id. If that lock can be taken, its owner is gone:
the run either committed in the destination (then it succeeded, and the feed's metadata moves to it)
or it did not (then it failed, and nothing of it is visible anywhere).
"""
from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

from peak_tui.locks import FileLock

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

DIED = "interrupted: the process running it stopped (killed or crashed) before it committed"


def run_lock_path(ws: Workspace, request_id: str):  # type: ignore[no-untyped-def]
    """The lock file a live run holds."""
    return ws.locks_dir / f"run-{request_id}.lock"


def recover_stale_runs(ws: Workspace) -> int:
    """Settle every queued/running run whose owner died; returns how many were settled."""
    settled = 0
    for run in ws.runs.active():
        lock = FileLock(run_lock_path(ws, run.request_id))
        if not lock.acquire():
            continue  # its owner is alive
        try:
            settle(ws, run.id)
            settled += 1
        finally:
            lock.release(remove=True)
    return settled


def settle(ws: Workspace, run_id: int) -> None:
    """Finish a dead run from what its destination committed."""
    run = ws.runs.get(run_id)
    if run.status not in ("queued", "running"):
        return
    # what the dead process left behind: its staging file and scratch directory
    (ws.home / "staging" / f"{run.request_id}.db").unlink(missing_ok=True)
    shutil.rmtree(ws.tmp_dir / f"run-{run.request_id}", ignore_errors=True)
    commit = None
    try:
        feed = ws.feeds.get(run.feed)
        commit = ws.destination(feed.destination).find_commit(run.request_id)
    except Exception:  # the feed or its destination is gone: the run cannot have committed there
        commit = None
    if commit is not None:
        ws.runs.finish(run.id, "succeeded", records=commit.records, metadata_after=commit.metadata,
                       error=None, committed=(commit.request_id, commit.metadata),
                       log_text=ws.runs.logs(run.id) + "[peak] recovered: the load had committed\n")
    else:
        ws.runs.finish(run.id, "failed", error=DIED,
                       log_text=ws.runs.logs(run.id) + f"[peak] {DIED}\n")


def reconcile_feed(ws: Workspace, feed_name: str) -> None:
    """Make the workspace's copy of a feed's metadata match its destination's last commit."""
    feed = ws.feeds.get(feed_name)
    commit = ws.destination(feed.destination).last_commit(feed_name)
    if commit is None:
        return
    state = ws.feeds.state(feed_name)
    if state["metadata_request_id"] == commit.request_id:
        return
    run = ws.runs.by_request_id(commit.request_id)
    if run is not None and run.status in ("queued", "running"):
        lock = FileLock(run_lock_path(ws, run.request_id))
        if lock.acquire():
            try:
                settle(ws, run.id)
            finally:
                lock.release(remove=True)
            return
    with ws.store.write() as c:
        c.execute("UPDATE feeds SET metadata=?, metadata_request_id=? WHERE name=?",
                  (json.dumps(commit.metadata), commit.request_id, feed_name))
