"""Ingest benchmark: 1,000,000 small records from a feed script into the local warehouse, committed.

Baseline, measured in the same run: the same child process (the feed's Python, stdlib json) writing
the same records into a pipe that the parent only parses (orjson, the engine's parser). The ratio
engine/baseline is what counts, because absolute speed drifts with machine load.

    .venv/bin/python bench/bench_ingest.py [--records N] [--repeat K]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

RECORDS_LOOP = """
for i in range({n}):
    write({{"id": i, "name": "item %d" % i, "value": i * 0.5, "active": i % 2 == 0, "tag": "bench"}})
"""

FEED_SCRIPT = """import requests
from lib import outputStream, metadata
write = outputStream.write
""" + RECORDS_LOOP + """
metadata.save({{"last": {n}}})
"""

BASELINE_CHILD = """import json, sys
out = sys.stdout.buffer
enc = json.JSONEncoder(allow_nan=False).encode
def write(r):
    out.write((enc(r) + "\\n").encode())
""" + RECORDS_LOOP + """
out.flush()
"""


def baseline(python: str, n: int) -> float:
    """Seconds for child stdlib-json -> pipe -> parent orjson parse, n records."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([python, "-c", BASELINE_CHILD.format(n=n)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    pending = b""
    count = 0
    loads = orjson.loads
    while True:
        data = proc.stdout.read1(1 << 20)
        if not data:
            break
        lines = (pending + data).split(b"\n")
        pending = lines.pop()
        for line in lines:
            loads(line)
        count += len(lines)
    proc.wait()
    assert count == n, count
    return time.perf_counter() - t0


def child_alone(python: str, n: int) -> float:
    """Seconds for the child's side only: stdlib json encode + write to /dev/null (the ceiling)."""
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        subprocess.run([python, "-c", BASELINE_CHILD.format(n=n)], stdout=sink, check=True)
    return time.perf_counter() - t0


def engine(home: Path, n: int, run_no: int) -> float:
    """Seconds for `run_feed` of a feed writing n records, to committed rows in the warehouse."""
    from peak_tui.execution import run_feed
    from peak_tui.models import Connection, Feed
    from peak_tui.workspace import Workspace

    ws = Workspace.open(home)
    name = f"bench{run_no}"
    if not ws.connections.exists("bench"):
        ws.connections.add(Connection(name="bench"))
    ws.feeds.save(Feed(name=name, connection="bench", script=FEED_SCRIPT.format(n=n)))
    ws.envs.ensure([])  # warm environment, as in steady use
    t0 = time.perf_counter()
    run = run_feed(ws, name, trigger="cli")
    elapsed = time.perf_counter() - t0
    assert run.status == "succeeded", run.error
    rows = ws.local.query(f"SELECT count(*) FROM {name}")[1][0][0]
    assert rows == n, rows
    return elapsed


def main() -> None:
    """Run both sides `repeat` times, interleaved, and print medians and the ratio."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("PEAK_TUI_KEYRING", "0")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "ws"
        from peak_tui.workspace import Workspace

        python = str(Workspace.open(home).envs.ensure([]))
        base, eng, alone = [], [], []
        for i in range(args.repeat):
            alone.append(child_alone(python, args.records))
            base.append(baseline(python, args.records))
            eng.append(engine(home, args.records, i))
        b, e = statistics.median(base), statistics.median(eng)
        n = args.records
        a = statistics.median(alone)
        print(f"child alone (stdlib json -> /dev/null): median {a:.2f} s, {n / a:,.0f} records/s")
        print(f"baseline (child json -> pipe -> parent parse): median {b:.2f} s, {n / b:,.0f} records/s")
        print(f"engine (script -> local warehouse, committed): median {e:.2f} s, {n / e:,.0f} records/s")
        print(f"ratio engine/baseline: {b / e:.2f} (target >= 0.8; >= 250,000 records/s)")
        print(f"runs: baseline {[round(x, 2) for x in base]}, engine {[round(x, 2) for x in eng]}")


if __name__ == "__main__":
    sys.exit(main())
