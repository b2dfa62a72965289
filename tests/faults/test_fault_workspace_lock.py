"""The workspace database held locked by another process: writers wait, nothing fails, nothing is lost.

A separate process holds `BEGIN EXCLUSIVE` on peak.db for HOLD seconds while a run starts, while a
run finishes, and while `connection add` runs. Every command must succeed without "database is
locked", and its writes must land after the lock is released.
"""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from peak_tui.workspace import Workspace

from .support import CounterFeed, ids_and_metadata, spawn_cli, wait_for

HOLD = 3.0
LOCKER = """\
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))  # the fault: another process holding the write lock this long
conn.execute("COMMIT")
print(time.time(), flush=True)
"""


def _lock(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(db), str(HOLD)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def _released_at(locker: subprocess.Popen[str]) -> float:
    assert locker.stdout is not None
    out = locker.stdout.read()
    assert locker.wait(timeout=30) == 0
    return float(out.strip())


def _ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out + err


def test_run_start_and_connection_add_wait_for_a_locked_workspace(counter: CounterFeed) -> None:
    db = counter.home / "peak.db"
    locker = _lock(db)
    t0 = time.monotonic()
    run = spawn_cli(counter.home, "feed", "run", counter.feed, "-q")
    add = spawn_cli(counter.home, "connection", "add", "later", "--auth", "basic",
                    "--username", "u", "--secret-env", "LATER_PW", env={"LATER_PW": "pw-later-1"})
    released = _released_at(locker)
    (run_code, run_out), (add_code, add_out) = _finish(run), _finish(add)
    assert time.monotonic() - t0 >= HOLD * 0.8, "the commands did not wait for the lock"
    assert run_code == 0 and "locked" not in run_out, run_out
    assert add_code == 0 and "locked" not in add_out, add_out
    ws = Workspace.open(counter.home)
    try:
        assert ws.connections.get("later").password == "pw-later-1"
        row = ws.store.query_one("SELECT created_at FROM connections WHERE name='later'")
        assert row is not None and _ts(row["created_at"]) >= released - 0.5
        r = ws.runs.list(counter.feed, limit=1)[0]
        assert r.status == "succeeded" and _ts(r.queued_at) >= released - 0.5
    finally:
        ws.close()
    ids, meta = ids_and_metadata(counter.home, counter.feed)
    assert len(ids) == 200 and meta == {"next": 200}


def test_run_finish_waits_for_a_locked_workspace(counter: CounterFeed) -> None:
    (counter.hooks / "hold").write_text("")
    run = spawn_cli(counter.home, "feed", "run", counter.feed, "-q")
    wait_for(lambda: (counter.hooks / "holding").exists(), "the script to reach its hold point", 60)
    locker = _lock(counter.home / "peak.db")
    (counter.hooks / "hold").unlink()  # the script ends; the runner commits, then records the run
    released = _released_at(locker)
    code, out = _finish(run)
    assert code == 0 and "locked" not in out, out
    ws = Workspace.open(counter.home)
    try:
        r = ws.runs.list(counter.feed, limit=1)[0]
        assert (r.status, r.records) == ("succeeded", 200)
        assert r.ended_at is not None and _ts(r.ended_at) >= released - 0.5
    finally:
        ws.close()
    ids, meta = ids_and_metadata(counter.home, counter.feed)
    assert len(ids) == 200 and meta == {"next": 200}
    run = spawn_cli(counter.home, "feed", "run", counter.feed, "-q")
    assert _finish(run)[0] == 0
    assert ids_and_metadata(counter.home, counter.feed)[1] == {"next": 400}
