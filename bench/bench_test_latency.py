"""Test latency: from calling Test on a feed (warm environment) that fetches 10 records from the demo
API, to the preview being ready. Target: median <= 0.5 s.

Baseline, measured in the same run: a bare `python -c "import requests; requests.get(...)"` in the
same environment doing the same fetch, i.e. the floor any subprocess-based Test could reach.

    .venv/bin/python bench/bench_test_latency.py [--repeat N]
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

SCRIPT = """import requests
from lib import outputStream, metadata

BASE_URL = "{url}"
rows = requests.get(f"{{BASE_URL}}/api/orders", params={{"per_page": 10}}, timeout=30).json()["data"]
for row in rows:
    outputStream.write(row)
metadata.save({{"updated_since": rows[-1]["updated_at"]}})
"""


def main() -> None:
    """Time `test_feed` N times against the floor of a bare subprocess doing the same fetch."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    args = ap.parse_args()
    os.environ.setdefault("PEAK_TUI_KEYRING", "0")
    from peak_tui.demo_api import DemoAPI
    from peak_tui.execution import test_feed
    from peak_tui.models import Connection, Feed
    from peak_tui.workspace import Workspace

    with tempfile.TemporaryDirectory() as tmp, DemoAPI() as api:
        api.start()
        ws = Workspace.open(Path(tmp) / "ws")
        ws.connections.add(Connection(name="demo"))
        feed = ws.feeds.save(Feed(name="latency", connection="demo", script=SCRIPT.format(url=api.url)))
        python = str(ws.envs.ensure([]))
        bare = (f"import requests; requests.get('{api.url}/api/orders', params={{'per_page': 10}}, "
                "timeout=30).json()")
        tests, floors = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            result = test_feed(ws, feed)
            tests.append(time.perf_counter() - t0)
            assert result.ok and result.total == 10, result.error
            t0 = time.perf_counter()
            subprocess.run([python, "-c", bare], check=True)
            floors.append(time.perf_counter() - t0)
        t, f = statistics.median(tests), statistics.median(floors)
        print(f"Test (warm env, 10 records from the demo API): median {t * 1000:.0f} ms, "
              f"p90 {sorted(tests)[int(len(tests) * 0.9) - 1] * 1000:.0f} ms (target <= 500 ms)")
        print(f"floor (bare subprocess: import requests + same GET): median {f * 1000:.0f} ms")
        print(f"ratio Test/floor: {t / f:.2f}")


if __name__ == "__main__":
    sys.exit(main())
