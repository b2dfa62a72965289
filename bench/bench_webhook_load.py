"""Webhook load: 200 calls in 10 s across 20 webhook feeds on one `peak-tui serve` daemon.

Prints client-side latency (p50/p95/p99, measured from each call's scheduled send time, so a
slow server cannot hide queueing; the callers run in their own process), accepted (202) and
skipped (409) counts, throughput, and the checks the load test asserts: no two runs of one feed
overlap, one run per accepted call, every skipped call recorded with its reason, every 202's run
finished, no "database is locked". Baseline in the same run: GET /health at the same rate.

    .venv/bin/python bench/bench_webhook_load.py [--calls 200] [--seconds 10] [--feeds 20]
                                                 [--workers N]

`tests/integration/test_load.py` runs the same scenario while the TUI and CLI loops run too.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.webhook_load import (  # noqa: E402
    FINAL,
    Call,
    daemon,
    fire_process,
    hook_feeds,
    start_daemon,
    wait_settled,
)
from peak_tui.workspace import Workspace  # noqa: E402

LOCKED = "database is locked"


def percentile(values: Iterable[float], p: float) -> float:
    """The p-th percentile (nearest rank) of the values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def overlaps(runs: list[Any]) -> list[tuple[int, int]]:
    """Pairs of runs of one feed whose [started, ended] intervals overlap."""
    out = []
    by_feed: dict[str, list[Any]] = {}
    for r in runs:
        if r.status != "skipped" and r.started_at and r.ended_at:
            by_feed.setdefault(r.feed, []).append(r)
    for feed_runs in by_feed.values():
        feed_runs.sort(key=lambda r: r.started_at)
        for a, b in zip(feed_runs, feed_runs[1:], strict=False):
            if datetime.fromisoformat(b.started_at) < datetime.fromisoformat(a.ended_at):
                out.append((a.id, b.id))
    return out


def all_runs(ws: Workspace) -> list[Any]:
    """Every run of the workspace."""
    return ws.runs.list(limit=1_000_000)


def locked_mentions(ws: Workspace, extra_texts: Iterable[str] = ()) -> list[str]:
    """Where "database is locked" appears: run errors, run logs, the daemon log, other texts."""
    found = [f"run #{r['id']} error" for r in ws.store.query(
        "SELECT id FROM runs WHERE error LIKE ?", (f"%{LOCKED}%",))]
    found += [f"run #{r['run_id']} log" for r in ws.store.query(
        "SELECT run_id FROM run_logs WHERE text LIKE ?", (f"%{LOCKED}%",))]
    log = daemon.log_path(ws)
    if log.exists() and LOCKED in log.read_text(errors="replace"):
        found.append(str(log))
    found += [f"text #{i}" for i, t in enumerate(extra_texts) if LOCKED in t]
    return found


def summary(calls: list[Call], runs: list[Any]) -> dict[str, Any]:
    """The figures of one load: latency percentiles, counts by answer, throughput.

    Calls per second over the span from the first call due to the last answer; runs per second
    from the first run's start to the last run's end.
    """
    lat = [c.latency for c in calls]
    by_status: dict[int, int] = {}
    for c in calls:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    done = [r for r in runs if r.status != "skipped"]
    fired = max(c.due + c.latency for c in calls) - min(c.due for c in calls)
    starts = [datetime.fromisoformat(r.started_at) for r in done if r.started_at]
    ends = [datetime.fromisoformat(r.ended_at) for r in done if r.ended_at]
    settled = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    return {
        "calls": len(calls), "p50_ms": percentile(lat, 50) * 1000,
        "p95_ms": percentile(lat, 95) * 1000, "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": max(lat) * 1000, "mean_ms": statistics.fmean(lat) * 1000,
        "accepted": by_status.get(202, 0), "skipped": by_status.get(409, 0),
        "queued": sum(1 for c in calls if c.status == 202 and c.body.get("status") == "queued"),
        "other": {k: v for k, v in by_status.items() if k not in (202, 409)},
        "runs": len(done), "skipped_rows": len(runs) - len(done),
        "succeeded": sum(1 for r in done if r.status == "succeeded"),
        "records": sum(r.records for r in done), "fired_s": fired, "settled_s": settled,
        "calls_per_s": len(calls) / fired, "runs_per_s": len(done) / settled,
        "p99_202_ms": percentile([c.latency for c in calls if c.status == 202] or [0], 99) * 1000,
        "p99_409_ms": percentile([c.latency for c in calls if c.status == 409] or [0], 99) * 1000,
    }


def check(ws: Workspace, calls: list[Call], extra_texts: Iterable[str] = ()) -> list[str]:
    """Every way the load could have gone wrong, as readable problems (empty: all good)."""
    problems = []
    runs = all_runs(ws)
    by_id = {r.id: r for r in runs}
    if pairs := overlaps(runs):
        problems.append(f"overlapping runs of one feed: {pairs}")
    accepted = [c for c in calls if c.status == 202]
    skipped = [c for c in calls if c.status == 409]
    if other := [(c.index, c.status, c.error or c.body) for c in calls if c.status not in (202, 409)]:
        problems.append(f"calls neither accepted nor skipped: {other[:5]}")
    real = [r for r in runs if r.status != "skipped"]
    if len(real) != len(accepted):
        problems.append(f"{len(real)} runs for {len(accepted)} accepted calls")
    for c in accepted:
        run = by_id.get(c.body.get("run_id"))
        if run is None or run.feed != c.feed or run.status not in FINAL or run.status == "skipped":
            problems.append(f"call {c.index}: 202 run_id {c.body.get('run_id')} -> "
                            f"{run and (run.feed, run.status)}")
    skipped_rows = [r for r in runs if r.status == "skipped"]
    if len(skipped_rows) != len(skipped):
        problems.append(f"{len(skipped_rows)} skipped rows for {len(skipped)} refused calls")
    for c in skipped:
        run = by_id.get(c.body.get("skipped_run_id"))
        if run is None or run.status != "skipped" or not run.error or run.error != c.body.get("error"):
            problems.append(f"call {c.index}: 409 {c.body} -> {run and (run.status, run.error)}")
    if unfinished := [r.id for r in runs if r.status not in FINAL]:
        problems.append(f"runs not in a final status: {unfinished}")
    if failed := [(r.id, r.error) for r in real if r.status != "succeeded"]:
        problems.append(f"runs that did not succeed: {failed[:5]}")
    if locked := locked_mentions(ws, extra_texts):
        problems.append(f"'{LOCKED}' in: {locked}")
    return problems


def report(s: dict[str, Any]) -> str:
    """The figures as lines to print."""
    return "\n".join([
        f"webhook latency over {s['calls']} calls (client-side, from the scheduled send): "
        f"p50 {s['p50_ms']:.0f} ms, p95 {s['p95_ms']:.0f} ms, p99 {s['p99_ms']:.0f} ms, "
        f"max {s['max_ms']:.0f} ms (target p99 < 200 ms)",
        f"answers: {s['accepted']} accepted (202; {s['queued']} of them queued behind busy workers), "
        f"{s['skipped']} skipped (409, feed busy)"
        + (f", other {s['other']}" if s["other"] else ""),
        f"runs: {s['runs']} ({s['succeeded']} succeeded, {s['records']} records), "
        f"{s['skipped_rows']} recorded as skipped",
        f"p99 by answer: 202 {s['p99_202_ms']:.0f} ms, 409 {s['p99_409_ms']:.0f} ms",
        f"throughput: {s['calls_per_s']:.1f} calls/s answered over {s['fired_s']:.1f} s; "
        f"{s['runs_per_s']:.1f} runs/s completed ({s['settled_s']:.1f} s from the first start to the "
        "last end)",
    ])


def main() -> int:
    """Run the scenario once on a fresh workspace and print its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--feeds", type=int, default=20)
    ap.add_argument("--workers", type=int, default=None, help="daemon workers (default: its setting)")
    args = ap.parse_args()
    os.environ["PEAK_TUI_KEYRING"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws")
        paths = hook_feeds(ws, args.feeds)
        ws.envs.ensure([])
        status = start_daemon(ws, args.workers)
        try:
            floor = [c.latency for c in fire_process(status.url, {"health": "/health"}, args.calls,
                                                     args.seconds, "GET")]
            calls = fire_process(status.url, paths, args.calls, args.seconds)
            wait_settled(ws, calls)
        finally:
            daemon.stop_daemon(ws)
        s = summary(calls, all_runs(ws))
        print(f"daemon: {status.workers} workers; {args.feeds} feeds writing 3 records each")
        print(report(s))
        print(f"baseline GET /health at the same rate: p50 {percentile(floor, 50) * 1000:.1f} ms, "
              f"p99 {percentile(floor, 99) * 1000:.1f} ms; ratio webhook/health p50 "
              f"{s['p50_ms'] / max(percentile(floor, 50) * 1000, 0.001):.1f}x")
        problems = check(ws, calls)
        print("checks: " + ("all passed" if not problems else "; ".join(problems)))
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
