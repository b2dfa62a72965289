"""Output floods: a gigabyte of logs and a million records keep the runner's memory and the stored log bounded.

The runner is the real CLI; its peak RSS (ru_maxrss of the runner process alone, not the script)
is read in the same process right after each command.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from peak_tui.execution import run_feed
from peak_tui.models import Feed
from peak_tui.runtime.process import Limits
from peak_tui.workspace import Workspace

from .support import run_cli_measuring_rss

GIB = 1024 ** 3
LOUD = """\
import sys
from lib import outputStream, metadata
block = ("x" * 1023 + "\\n") * 1024          # 1 MiB of 1 KiB lines
for _ in range({mib}):
    sys.stdout.write(block)
print("LAST LINE")
outputStream.write({{"id": 1}})
metadata.save({{"done": True}})
"""


def test_printing_one_gigabyte_is_contained(ws: Workspace, make_feed: Callable[..., Feed],
                                            record_property: Callable[[str, Any], None]) -> None:
    make_feed("tiny", "from lib import outputStream\noutputStream.write({'id': 1})\n")
    make_feed("loud", LOUD.format(mib=1024))
    t0 = time.monotonic()
    (tiny, loud), out = run_cli_measuring_rss(ws.home, ["feed", "run", "tiny", "-q"],
                                              ["feed", "run", "loud", "-q"])
    took = time.monotonic() - t0
    record_property("gigabyte_print_seconds", round(took, 1))
    record_property("runner_peak_rss_kib", [tiny[1], loud[1]])
    assert tiny[0] == 0 and loud[0] == 0, out[-2000:]
    assert loud[1] - tiny[1] < 64 * 1024, f"runner RSS grew from {tiny[1]} to {loud[1]} KiB"
    run = ws.runs.list("loud", limit=1)[0]
    assert (run.status, run.records, run.metadata_after) == ("succeeded", 1, {"done": True})
    row = ws.store.query_one("SELECT size, truncated, length(text) AS kept FROM run_logs "
                             "WHERE run_id=?", (run.id,))
    assert row is not None and row["truncated"] == 1
    assert row["size"] >= GIB, "the stored size should say how much the script printed"
    cap = Limits().max_log_bytes
    assert row["kept"] <= cap + 1024
    log = ws.runs.logs(run.id)
    assert "the script has printed over 256 MB of logs; further output is counted" in log
    assert "more bytes of log output were discarded" in log
    assert log.rstrip().endswith("status succeeded")


def test_lowered_output_cap_stops_streaming_but_the_run_finishes(
        ws: Workspace, make_feed: Callable[..., Feed], lower_limits: Callable[..., None]) -> None:
    lower_limits(max_log_output_bytes=2 * 1024 * 1024, max_log_bytes=256 * 1024)
    make_feed("loud", LOUD.format(mib=48))
    seen: list[str] = []
    run = run_feed(ws, "loud", on_log=seen.append)
    assert run.status == "succeeded" and run.records == 1
    streamed = sum(len(x) + 1 for x in seen)
    # past the cap nothing more is streamed to the caller (the TUI, the CLI): ~2 MiB, not 48
    assert 2 * 1024 * 1024 <= streamed < 3 * 1024 * 1024, streamed
    assert "LAST LINE" not in seen
    row = ws.store.query_one("SELECT size, truncated, length(text) AS kept FROM run_logs "
                             "WHERE run_id=?", (run.id,))
    assert row is not None and row["truncated"] == 1 and row["size"] >= 48 * 1024 * 1024
    assert row["kept"] <= 256 * 1024 + 1024
    assert "printed over 2 MB of logs" in ws.runs.logs(run.id)


MANY = """\
from lib import outputStream, metadata
w = outputStream.write
for i in range({n}):
    w({{"id": i, "name": "r%d" % i, "ok": True}})
metadata.save({{"n": {n}}})
"""


@pytest.mark.slow
def test_a_million_records_keep_the_runner_memory_flat(
        ws: Workspace, make_feed: Callable[..., Feed],
        record_property: Callable[[str, Any], None]) -> None:
    """10 M records take ~40 s here; 1 M shows the same thing: memory does not grow with records."""
    n = 1_000_000
    make_feed("few", MANY.format(n=1000))
    make_feed("many", MANY.format(n=n))
    t0 = time.monotonic()
    (few, many), out = run_cli_measuring_rss(ws.home, ["feed", "run", "few", "-q"],
                                             ["feed", "run", "many", "-q"])
    took = time.monotonic() - t0
    record_property("million_records_seconds", round(took, 1))
    record_property("runner_peak_rss_kib", [few[1], many[1]])
    assert few[0] == 0 and many[0] == 0, out[-2000:]
    # the records stream through a bounded pipe into the staging file: holding them would cost
    # hundreds of MB (a dict per record); the runner may grow by SQLite's page cache at most
    assert many[1] - few[1] < 48 * 1024, f"runner RSS grew from {few[1]} to {many[1]} KiB"
    assert ws.local.query("SELECT count(*), count(DISTINCT id), max(id) FROM many")[1] == \
        [(n, n, n - 1)]
    assert ws.feeds.metadata("many") == {"n": n}
