"""Storage faults: disk full while staging or committing, and a destination locked past its busy timeout.

After each fault: the run is recorded as failed with a message that says what happened, nothing of it
is in the warehouse, the metadata is unchanged, no staging file is left, and the next run succeeds.
"Disk full" is RLIMIT_FSIZE on the runner process (works as any user, in any container); the tmpfs
test adds a real ENOSPC where mounting is permitted.
"""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peak_tui.destinations import local as local_dest
from peak_tui.execution import run_feed
from peak_tui.workspace import Workspace

from .support import CounterFeed, alive, ids_and_metadata, last_run, run_cli, wait_for

FULL_HINT = "(the disk may be full or a file size limit was reached)"


def _shape(counter: CounterFeed, page: int, pad: int = 0) -> None:
    (counter.hooks / "shape").write_text(json.dumps({"page": page, "pad": pad}))


def _fails_cleanly(counter: CounterFeed, before: list[int], message: str) -> None:
    ids, _ = ids_and_metadata(counter.home, counter.feed)
    assert ids == before, "a failed run changed the warehouse"
    run = last_run(counter.home, counter.feed)
    assert run.status == "failed" and run.records == 0
    assert run.error is not None and message in run.error, run.error
    assert message in run.log and "nothing was loaded and the metadata is unchanged" in run.log
    assert not list((counter.home / "staging").iterdir()), "a staging file was left behind"


def _next_run_succeeds(counter: CounterFeed, page: int = 50) -> None:
    _shape(counter, page)
    before, _ = ids_and_metadata(counter.home, counter.feed)
    r = run_cli(counter.home, "feed", "run", counter.feed, "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    ids, meta = ids_and_metadata(counter.home, counter.feed)
    assert ids == list(range(len(before) + page)) and meta == {"next": len(before) + page}


def test_disk_full_while_staging_and_while_committing(counter: CounterFeed) -> None:
    _next_run_succeeds(counter)  # a committed first load, so the faults hit a feed with metadata
    before, _ = ids_and_metadata(counter.home, counter.feed)
    limit = 768 * 1024
    # 600 records of 8 KB: more than SQLite's 2 MB page cache, so the staging file is written
    # (and passes the limit) while records stream in, long before the commit
    _shape(counter, 600, pad=8000)
    r = run_cli(counter.home, "feed", "run", counter.feed, "-q", fsize=limit)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "staging the records failed" in r.stdout
    _fails_cleanly(counter, before, "staging the records failed: disk I/O error " + FULL_HINT)
    _next_run_succeeds(counter)

    # 20,000 tiny records: ~300 KB staged, but ~1.5 MB in the warehouse with the audit columns,
    # so the staging file fits and the warehouse's commit (its WAL) does not
    before, _ = ids_and_metadata(counter.home, counter.feed)
    _shape(counter, 20_000)
    r = run_cli(counter.home, "feed", "run", counter.feed, "-q", fsize=limit)
    assert r.returncode == 1, r.stdout + r.stderr
    _fails_cleanly(counter, before,
                   "the commit to the destination failed: disk I/O error " + FULL_HINT)
    _next_run_succeeds(counter)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture
def small_disk(counter: CounterFeed) -> Iterator[tuple[CounterFeed, bool]]:
    """The counter's staging dir on a 512 KB tmpfs (real ENOSPC), or, where mount is refused,
    the same run under RLIMIT_FSIZE (with a warning, so the fallback is never silent)."""
    staging = counter.home / "staging"
    mounted = _mount_tmpfs(staging, "512k")
    if not mounted:
        warnings.warn("mount -t tmpfs is not permitted here: ENOSPC simulated with RLIMIT_FSIZE",
                      stacklevel=1)
    yield counter, mounted
    if mounted:
        subprocess.run(["umount", "-l", str(staging)], check=False)


def test_no_space_left_in_staging(small_disk: tuple[CounterFeed, bool],
                                  record_property: Callable[[str, Any], None]) -> None:
    counter, mounted = small_disk
    record_property("real_enospc", mounted)
    _shape(counter, 600, pad=8000)  # ~5 MB of records on a 512 KB disk
    r = run_cli(counter.home, "feed", "run", counter.feed, "-q",
                fsize=None if mounted else 512 * 1024)
    assert r.returncode == 1, r.stdout + r.stderr
    message = ("staging the records failed: database or disk is full" if mounted
               else "staging the records failed: disk I/O error")
    _fails_cleanly(counter, [], message)
    _next_run_succeeds(counter)


LOCKER = """\
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()  # held until the test closes our stdin
conn.execute("COMMIT")
"""


def hold_lock(db: Path) -> subprocess.Popen[str]:
    """Another process holding BEGIN EXCLUSIVE on `db` until its stdin is closed."""
    proc = subprocess.Popen([sys.executable, "-c", LOCKER, str(db)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    """Let the locker commit and exit."""
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_destination_locked_past_its_busy_timeout(counter: CounterFeed,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _next_run_succeeds(counter)
    before, meta = ids_and_metadata(counter.home, counter.feed)
    monkeypatch.setattr(local_dest, "BUSY_MS", 300)
    ws = Workspace.open(counter.home)
    try:
        locker = hold_lock(ws.local.path)
        try:
            run = run_feed(ws, counter.feed)
        finally:
            release(locker)
        assert run.status == "failed" and run.records == 0
        assert run.error == ("the commit to the destination failed: database is locked (another "
                             "process kept the database locked for longer than the busy timeout)")
        assert ws.feeds.metadata(counter.feed) == meta
    finally:
        ws.close()
    _fails_cleanly(counter, before, "database is locked")
    _next_run_succeeds(counter)


def test_staging_failure_kills_the_script(ws: Workspace, make_feed: Callable[..., Any],
                                          monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A sink that fails in an unexpected way must not leave the script blocked on its pipe."""
    pid_file = tmp_path / f"{uuid.uuid4().hex}.pid"
    make_feed("endless", f"""\
        import os
        from lib import outputStream
        open({str(pid_file)!r}, "w").write(str(os.getpid()))
        i = 0
        while True:
            outputStream.write({{"id": i}})
            i += 1
        """)

    def broken_write(self: Any, records: Any) -> None:
        raise RuntimeError("staging exploded")

    monkeypatch.setattr(local_dest.LocalLoad, "write", broken_write)
    run = run_feed(ws, "endless")
    assert (run.status, run.error) == ("failed", "RuntimeError: staging exploded")
    pid = int(pid_file.read_text())
    wait_for(lambda: not alive(pid), "the script to be killed after its sink failed", 10)
