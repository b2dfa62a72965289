"""The `serve` daemon as a real process: catch-up on start, once-at, webhook runs, kill -9 and restart
(no double runs, no lost run records, catch-up exactly once), one daemon per workspace, and a
graceful stop that lets short runs finish and cancels long ones after the grace period."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from peak_tui import daemon
from peak_tui import schedule_state as st
from peak_tui.errors import PeakError
from peak_tui.models import Connection, Feed
from peak_tui.recovery import DIED
from peak_tui.webhook_keys import hook_path
from peak_tui.workspace import Workspace

SCRIPT = """import os
import time
from lib import outputStream, trigger
with open(MARKER, "w") as f:
    f.write(str(os.getpid()))
time.sleep(SLEEP)
outputStream.write({"id": 1, "source": trigger.source, "payload": str(trigger.payload)})
"""


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def at_text(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


class Setup:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.ws = Workspace.open(home)
        self.ws.connections.add(Connection(name="local", auth_type="none"))
        self.markers = home.parent / "markers"
        self.markers.mkdir()
        daemon.set_config(self.ws, port=0)

    def feed(self, name: str, trigger: dict[str, Any], sleep: float = 0.0) -> None:
        script = SCRIPT.replace("MARKER", repr(str(self.markers / name))).replace("SLEEP", str(sleep))
        self.ws.feeds.save(Feed(name=name, connection="local", script=script, trigger=trigger),
                           create=True)

    def runs(self, feed: str) -> list[Any]:
        return self.ws.runs.list(feed)

    def finished(self, feed: str, n: int = 1) -> list[Any] | None:
        runs = self.runs(feed)
        done = [r for r in runs if r.status not in ("queued", "running")]
        return runs if len(runs) >= n and len(done) == len(runs) else None

    def status(self) -> daemon.DaemonStatus:
        s = daemon.daemon_status(self.ws)
        assert s is not None
        return s


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    s = Setup(tmp_path / "ws")
    s.ws.envs.ensure([])  # the daemon's runs reuse this environment
    return s


def test_daemon_survives_kill_9_without_double_or_lost_runs(setup: Setup) -> None:
    now = datetime.now(UTC)
    hourly = {"type": "schedule", "cron": "0 0 * * * ?"}
    setup.feed("catchup", hourly)
    st.ensure_state(setup.ws, "catchup", hourly, "UTC", anchor=now - timedelta(hours=3), reset=True)
    setup.feed("oneshot_past", {"type": "once", "at": at_text(now - timedelta(seconds=90))})
    soon_at = (now + timedelta(seconds=6)).replace(microsecond=0)
    setup.feed("oneshot_soon", {"type": "once", "at": at_text(soon_at)})
    setup.feed("hooked", {"type": "webhook"}, sleep=60)
    assert setup.ws.feeds.state("oneshot_soon")["next_run_at"] is not None

    pid1 = daemon.spawn_daemon(setup.ws)
    first = setup.status()
    assert first.pid == pid1 and first.host == "127.0.0.1" and first.port > 0
    # missed while no daemon ran: each runs once, as a catch-up
    for name in ("catchup", "oneshot_past"):
        [run] = wait_for(lambda n=name: setup.finished(n), f"the catch-up run of {name}")
        assert (run.trigger, run.status, run.catch_up) == (
            "once" if name.startswith("oneshot") else "schedule", "succeeded", True)
    [soon] = wait_for(lambda: setup.finished("oneshot_soon"), "the once-at run", timeout=20)
    assert (soon.trigger, soon.status, soon.catch_up) == ("once", "succeeded", False)
    assert soon_at <= datetime.fromisoformat(soon.started_at) < soon_at + timedelta(seconds=30)

    # a webhook run, killed with its daemon halfway through
    token = setup.ws.feeds.state("hooked")["webhook_token"]
    r = requests.post(first.url + hook_path("hooked", token), json={"build": 7}, timeout=30)
    assert r.status_code == 202, r.text
    killed_run = r.json()["run_id"]
    script_pid = int(wait_for(lambda: (setup.markers / "hooked").exists()
                              and (setup.markers / "hooked").read_text(), "the webhook run to start"))
    os.kill(pid1, signal.SIGKILL)
    wait_for(lambda: daemon.daemon_status(setup.ws) is None, "the lock to be released")
    try:
        os.kill(script_pid, signal.SIGKILL)  # the orphaned script would otherwise sleep on
    except ProcessLookupError:
        pass
    assert setup.ws.runs.get(killed_run).status == "running"  # nobody has settled it yet

    # missed while the daemon was dead: the marker runs on the restarted daemon's first pass,
    # which also decides every other feed (feeds are scheduled in name order)
    setup.feed("zz_marker", {"type": "once", "at": at_text(datetime.now(UTC) - timedelta(seconds=90))})
    daemon.set_config(setup.ws, grace=5.0)
    pid2 = daemon.spawn_daemon(setup.ws)
    assert pid2 != pid1
    [marker] = wait_for(lambda: setup.finished("zz_marker"), "the restarted daemon's first pass")
    assert marker.catch_up and marker.status == "succeeded"
    settled = setup.ws.runs.get(killed_run)
    assert settled.status == "failed" and settled.error == DIED
    # exactly one run each: no double catch-up, no re-run of the once-at feeds or the killed run
    for name in ("catchup", "oneshot_past", "oneshot_soon", "hooked"):
        assert len(setup.runs(name)) == 1, [(r.id, r.status) for r in setup.runs(name)]
    assert setup.ws.runs.active() == []

    # one daemon per workspace
    second = subprocess.run([sys.executable, "-m", "peak_tui", "--home", str(setup.home), "serve"],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode == 4 and f"pid {pid2}" in second.stderr and "already serves" in second.stderr

    # the same webhook URL works on the new daemon
    status = setup.status()
    r = requests.post(status.url + hook_path("hooked", token) + "?wait=1", json={"build": 8}, timeout=30)
    assert r.status_code == 202 and r.json()["run_id"] != killed_run
    long_run = r.json()["run_id"]
    stopped = subprocess.run([sys.executable, "-m", "peak_tui", "--home", str(setup.home), "daemon",
                              "stop"], capture_output=True, text=True, timeout=60)
    assert stopped.returncode == 0 and f"pid {pid2}" in stopped.stdout
    assert daemon.daemon_status(setup.ws) is None
    cancelled = setup.ws.runs.get(long_run)
    assert cancelled.status == "cancelled"  # the grace period (5 s) ran out
    assert datetime.fromisoformat(cancelled.ended_at) - datetime.fromisoformat(
        cancelled.started_at) < timedelta(seconds=30)
    log = daemon.log_path(setup.ws).read_text()
    assert "Traceback" not in log and "cancelling run" in log and token not in log


def test_graceful_stop_lets_a_short_run_finish(setup: Setup) -> None:
    setup.feed("short", {"type": "webhook"}, sleep=2)
    daemon.set_config(setup.ws, grace=30.0)
    pid = daemon.spawn_daemon(setup.ws)
    status = setup.status()
    token = setup.ws.feeds.state("short")["webhook_token"]
    r = requests.post(status.url + hook_path("short", token), timeout=30)
    assert r.status_code == 202
    wait_for(lambda: (setup.markers / "short").exists(), "the run to start")
    assert daemon.stop_daemon(setup.ws).pid == pid
    run = setup.ws.runs.get(r.json()["run_id"])
    assert run.status == "succeeded" and run.records == 1
    assert daemon.daemon_status(setup.ws) is None
    with pytest.raises(requests.ConnectionError):
        requests.post(status.url + hook_path("short", token), timeout=5)


def test_spawn_reports_why_the_daemon_could_not_start(setup: Setup) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        daemon.set_config(setup.ws, port=busy.getsockname()[1])
        with pytest.raises(PeakError) as e:
            daemon.spawn_daemon(setup.ws, timeout=30)
    assert "exited during start-up" in e.value.message and "cannot listen on 127.0.0.1" in e.value.message
    assert daemon.daemon_status(setup.ws) is None
