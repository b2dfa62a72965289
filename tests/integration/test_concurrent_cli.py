"""Several CLI processes on one workspace at once: no 'database is locked', no lost writes, one run per feed."""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

GATED = """\
import os, time
from lib import outputStream
deadline = time.monotonic() + 60
while not os.path.exists({gate!r}) and time.monotonic() < deadline:
    time.sleep(0.01)
for i in range({n}):
    outputStream.write({{"i": i, "feed": {name!r}, "pad": "x" * 50}})
print("wrote", {n})
"""


def gated_feed(ws: Workspace, name: str, gate: Path, n: int) -> None:
    ws.feeds.save(Feed(name=name, connection="api", script=GATED.format(gate=str(gate), n=n, name=name)))


def wait_until(check: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_parallel_runs_and_writes_lose_nothing(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    ws.connections.add(Connection(name="api"))
    gate = tmp_path / "gate"
    gated_feed(ws, "alpha", gate, 20_000)
    gated_feed(ws, "beta", gate, 20_000)
    tomls = []
    for i in range(3):
        path = tmp_path / f"imp{i}.toml"
        path.write_text(f'name = "imported{i}"\nconnection = "api"\nscript = "print({i})"\n')
        tomls.append(path)
    results: dict[str, list[Any]] = {}

    def loop(key: str, calls: list[tuple[str, ...]]) -> None:
        results[key] = [cli(*args) for args in calls]

    threads = [
        threading.Thread(target=loop, args=("run_a", [("feed", "run", "alpha", "--json")])),
        threading.Thread(target=loop, args=("run_b", [("feed", "run", "beta", "--json")])),
    ]
    for t in threads:
        t.start()
    wait_until(lambda: len(ws.runs.active()) == 2, "both runs to start")
    loops = [
        threading.Thread(target=loop, args=("conns", [("connection", "add", f"c{i}") for i in range(3)])),
        threading.Thread(target=loop, args=("imports", [("feed", "import", str(p), "--json")
                                                        for p in tomls])),
        threading.Thread(target=loop, args=("reads", [("runs", "--json")] * 3)),
    ]
    for t in loops:
        t.start()
    gate.touch()
    for t in threads + loops:
        t.join(timeout=120)
    everything = [r for rs in results.values() for r in rs]
    assert len(everything) == 11
    for r in everything:
        assert r.code == 0, r
        assert "locked" not in r.err, r
    for key, feed in (("run_a", "alpha"), ("run_b", "beta")):
        run = results[key][0].json()
        assert (run["status"], run["records"], run["feed"]) == ("succeeded", 20_000, feed)
        assert ws.local.query(f"SELECT count(*) FROM {feed}")[1] == [(20_000,)]
    assert all(isinstance(r.json(), list) for r in results["reads"])
    assert {c.name for c in ws.connections.list()} == {"api", "c0", "c1", "c2"}
    assert {f.name for f in ws.feeds.list()} == {"alpha", "beta", "imported0", "imported1", "imported2"}
    assert [r.json()["created"] for r in results["imports"]] == [True] * 3
    assert sorted(r.feed for r in ws.runs.list()) == ["alpha", "beta"]


def test_same_feed_twice_at_once_runs_once(ws: Workspace, cli: Any, tmp_path: Path) -> None:
    ws.connections.add(Connection(name="api"))
    gate = tmp_path / "gate"
    gated_feed(ws, "same", gate, 100)
    procs = [cli.popen("feed", "run", "same"), cli.popen("feed", "run", "same")]
    started = time.monotonic()
    finished: list[int] = []
    while not finished:
        finished = [i for i, p in enumerate(procs) if p.poll() is not None]
        assert time.monotonic() - started < 60, "neither run finished"
        time.sleep(0.02)
    loser = procs[finished[0]]
    out, err = loser.communicate()
    assert loser.returncode == 4, (out, err)
    assert re.fullmatch(r"error: Conflict: feed 'same' is already running \((run #1|another "
                        r"process)\)\n", err), err
    assert ws.runs.list() == [] or ws.runs.list()[0].status == "running"
    gate.touch()
    winner = procs[1 - finished[0]]
    out, err = winner.communicate(timeout=120)
    assert winner.returncode == 0, err
    assert re.fullmatch(r"run #1 succeeded: 100 records in [\d.]+s\n", out)
    runs = ws.runs.list()
    assert [(r.feed, r.status, r.records) for r in runs] == [("same", "succeeded", 100)]
    assert ws.local.query("SELECT count(*) FROM same")[1] == [(100,)]
