"""The webhook load scenario: tiny webhook feeds, a real daemon, and paced callers.

Used by bench/bench_webhook_load.py (figures) and tests/integration/test_load.py (with the TUI and
CLI loops running too). `python bench/webhook_load.py` reads a job as JSON on stdin and prints the
calls' results: `fire_process` runs the callers in their own process.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from peak_tui import daemon  # noqa: E402
from peak_tui.models import Connection, Feed  # noqa: E402
from peak_tui.webhook_keys import hook_path  # noqa: E402
from peak_tui.workspace import Workspace  # noqa: E402

SCRIPT = """from lib import outputStream, trigger
for i in range(3):
    outputStream.write({"i": i, "call": (trigger.payload or {}).get("call")})
"""
FINAL = ("succeeded", "failed", "cancelled", "skipped")


@dataclass
class Call:
    """One webhook call: when it was due, how long until its answer, and the answer."""

    index: int
    feed: str
    due: float
    latency: float = 0.0
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def hook_feeds(ws: Workspace, n: int, script: str = SCRIPT) -> dict[str, str]:
    """Create `n` tiny webhook feeds; returns feed name -> webhook path (with its token)."""
    if not ws.connections.exists("local"):
        ws.connections.add(Connection(name="local", auth_type="none"))
    paths = {}
    for i in range(n):
        name = f"hook_{i:02d}"
        ws.feeds.save(Feed(name=name, connection="local", script=script,
                           trigger={"type": "webhook"}), create=True)
        paths[name] = hook_path(name, ws.feeds.state(name)["webhook_token"])
    return paths


def start_daemon(ws: Workspace, workers: int | None = None) -> daemon.DaemonStatus:
    """`peak-tui serve` in the background on a free port (as `peak-tui daemon start` does)."""
    daemon.set_config(ws, port=0, **({"workers": workers} if workers else {}))
    daemon.spawn_daemon(ws)
    status = daemon.daemon_status(ws)
    assert status is not None and status.ready, "the daemon did not report ready"
    return status


def paced(calls: int, seconds: float, send: Callable[[int, float], Call],
          threads: int = 128) -> list[Call]:
    """Call `send(i, due)` for i < calls at a steady rate over `seconds`; results in call order."""
    gap = seconds / calls
    start = time.perf_counter() + 0.05
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load") as pool:
        futures = []
        for i in range(calls):
            due = start + i * gap
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # pacing the load generator, not waiting for a result
            futures.append(pool.submit(send, i, due))
        return [f.result() for f in futures]


def fire(base_url: str, paths: dict[str, str], calls: int = 200, seconds: float = 10.0,
         method: str = "POST") -> list[Call]:
    """POST `calls` webhooks round-robin over the feeds at a steady rate; each gets its answer."""
    names = sorted(paths)
    local = threading.local()

    def send(i: int, due: float) -> Call:
        call = Call(i, names[i % len(names)], due)
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.trust_env = False  # no proxy/netrc look-ups per call: time the server, not them
        try:
            r = session.request(method, base_url + paths[call.feed], timeout=60,
                                json={"call": i} if method == "POST" else None)
            call.status = r.status_code
            call.body = r.json()
        except (requests.RequestException, ValueError) as e:
            call.error = f"{type(e).__name__}: {e}"
        call.latency = time.perf_counter() - due
        return call

    return paced(calls, seconds, send)


def fire_process(base_url: str, paths: dict[str, str], calls: int = 200,
                 seconds: float = 10.0, method: str = "POST") -> list[Call]:
    """`fire` from a separate process, so the callers' timing is not slowed by this one's threads
    (the TUI under Pilot, in the load test); webhook callers are other programs anyway."""
    job = json.dumps({"url": base_url, "paths": paths, "calls": calls, "seconds": seconds,
                      "method": method})
    out = subprocess.run([sys.executable, __file__], input=job, capture_output=True,
                         text=True, timeout=seconds + 120, check=True).stdout
    return [Call(**c) for c in json.loads(out)]


def wait_settled(ws: Workspace, calls: list[Call], timeout: float = 60.0) -> None:
    """Poll until no run is queued or running and every accepted call's run has finished."""
    ids = [c.body["run_id"] for c in calls if c.status == 202 and c.body.get("run_id")]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ws.runs.active() and all(ws.runs.get(i).status in FINAL for i in ids):
            return
        time.sleep(0.1)
    raise AssertionError(f"runs still active after {timeout:.0f} s: {ws.runs.active()}")


if __name__ == "__main__":  # the callers' side of fire_process
    job = json.load(sys.stdin)
    print(json.dumps([asdict(c) for c in fire(job["url"], job["paths"], job["calls"], job["seconds"],
                                              job["method"])]))
