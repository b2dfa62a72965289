"""Fault injection: runs killed at many points (script, runner, inside the commit) lose and duplicate nothing.

Each scenario runs `peak-tui feed run` as a real process and kills it (or its script) at one point.
After every fault the workspace is reopened (which settles dead runs) and the invariants are checked:
the warehouse holds each source record at most once, the committed metadata matches exactly what is in
the warehouse, no run is left running, and the next run succeeds. At the end every record is there once.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

TOTAL = 1500
PAGE = 100

SCRIPT = """\
import requests
from lib import outputStream, metadata
import os, signal, time

FAULT_FILE = {fault_file!r}
fault = open(FAULT_FILE).read().strip() if os.path.exists(FAULT_FILE) else ""
kind, _, at = fault.partition("@")
at = int(at or 0)
total = {total}
if os.path.exists(FAULT_FILE + ".total"):
    total = int(open(FAULT_FILE + ".total").read())
start = metadata.get("next", 0)
stop = min(start + {page}, total)
for n, i in enumerate(range(start, stop)):
    if fault and n == at:
        if kind == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if kind == "raise":
            raise RuntimeError("boom at record %d" % i)
        if kind == "exit0":
            os._exit(0)
        if kind == "swallow_bad_record":
            try:
                outputStream.write({{"id": object()}})
            except Exception:
                pass
    if kind == "slow":
        time.sleep(0.002)
    outputStream.write({{"id": i, "page": start // {page}, "nested": {{"i": i}}}})
metadata.save({{"next": stop}})
if kind == "kill_after_save":
    os.kill(os.getpid(), signal.SIGKILL)
print("wrote", stop - start)
"""


def _cli(home: Path, *args: str, env: dict[str, str] | None = None,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, PEAK_TUI_KEYRING="0", **(env or {}))
    return subprocess.run([sys.executable, "-m", "peak_tui", "--home", str(home), *args],
                          capture_output=True, text=True, env=full_env, timeout=timeout)


def _check_invariants(home: Path) -> int:
    """Reopen (settling dead runs) and check nothing is lost, duplicated or left running."""
    ws = Workspace.open(home)
    try:
        assert ws.runs.active() == [], "a run was left queued/running after its process died"
        tables = ws.local.tables()
        if "faulty" not in tables:
            ids: list[int] = []
        else:
            ids = [r[0] for r in ws.local.query("SELECT id FROM faulty ORDER BY id")[1]]
        assert len(ids) == len(set(ids)), "duplicated records in the warehouse"
        meta = ws.feeds.metadata("faulty")
        committed_next = meta.get("next", 0)
        assert ids == list(range(committed_next)), (
            f"warehouse holds {len(ids)} records but metadata says next={committed_next}")
        commit = ws.local.last_commit("faulty")
        assert (commit.metadata if commit else {}) == meta
        return committed_next
    finally:
        ws.close()


@pytest.fixture()
def faulty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    home = tmp_path / "ws"
    fault_file = tmp_path / "fault.txt"
    ws = Workspace.open(home)
    ws.connections.add(Connection(name="src"))
    ws.feeds.save(Feed(name="faulty", connection="src",
                       script=SCRIPT.format(fault_file=str(fault_file), page=PAGE, total=TOTAL)))
    ws.close()
    return home, fault_file


def _run_ok(home: Path) -> None:
    r = _cli(home, "feed", "run", "faulty", "-q")
    assert r.returncode == 0, r.stderr + r.stdout


SCRIPT_FAULTS = ["kill@0", "kill@57", "raise@3", "exit0@50", "swallow_bad_record@10", "kill_after_save@0"]
RUNNER_FAULTS = ["run.batch_written", "run.before_commit", "local.inside_commit", "run.after_commit",
                 "run.after_finish"]


def test_killed_runs_neither_lose_nor_duplicate(faulty_home: tuple[Path, Path]) -> None:
    home, fault_file = faulty_home
    _run_ok(home)  # a first clean run, so faults also hit a feed with committed metadata
    assert _check_invariants(home) == PAGE
    expected_next = PAGE
    statuses: dict[str, str] = {}

    for fault in SCRIPT_FAULTS:
        fault_file.write_text(fault)
        r = _cli(home, "feed", "run", "faulty", "-q")
        assert r.returncode != 0, f"{fault}: the run should have failed"
        fault_file.unlink()
        assert _check_invariants(home) == expected_next, fault
        _run_ok(home)
        expected_next += PAGE
        assert _check_invariants(home) == expected_next, fault

    for fault in RUNNER_FAULTS:
        r = _cli(home, "feed", "run", "faulty", "-q", env={"PEAK_TUI_FAULTS": fault})
        assert r.returncode == -signal.SIGKILL, f"{fault}: {r.returncode} {r.stderr}"
        committed = fault in ("run.after_commit", "run.after_finish")
        if committed:
            expected_next += PAGE
        assert _check_invariants(home) == expected_next, fault
        ws = Workspace.open(home)
        statuses[fault] = ws.runs.list("faulty", limit=1)[0].status
        ws.close()
        _run_ok(home)
        expected_next += PAGE
        assert _check_invariants(home) == expected_next, fault

    assert statuses == {
        "run.batch_written": "failed", "run.before_commit": "failed", "local.inside_commit": "failed",
        "run.after_commit": "succeeded", "run.after_finish": "succeeded",
    }


def test_random_kills_of_the_whole_run(faulty_home: tuple[Path, Path]) -> None:
    """kill -9 of the runner and its script at random moments, then run to the end of the source."""
    home, fault_file = faulty_home
    total = 800
    Path(str(fault_file) + ".total").write_text(str(total))
    fault_file.write_text("slow")  # ~0.2 s of streaming per run, so kills land mid-run
    rng = random.Random(20261126)
    env = dict(os.environ, PEAK_TUI_KEYRING="0")
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-m", "peak_tui", "--home", str(home), "feed", "run",
                                 "faulty", "-q"], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.2))  # the point of the test is a random moment
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        _check_invariants(home)
    fault_file.unlink()
    while _check_invariants(home) < total:
        _run_ok(home)
    _run_ok(home)  # the source is exhausted: a run that loads nothing changes nothing
    assert _check_invariants(home) == total
    ws = Workspace.open(home)
    n, distinct = ws.local.query("SELECT count(*), count(DISTINCT id) FROM faulty")[1][0]
    assert n == distinct == total
    ws.close()
