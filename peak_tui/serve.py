"""`peak-tui serve`: the long-running process that runs feeds by schedule and hosts the webhooks.

Start-up: open the workspace (which settles runs a killed daemon left behind), take the daemon
lock (a second daemon is refused), listen, write the status, then tick the scheduler about once a
second; the first tick runs each feed whose slots were missed while no daemon ran, once, as a
catch-up. SIGTERM/SIGINT: stop listening and scheduling, give running feeds ``grace`` seconds,
cancel the rest (recorded as cancelled), release the lock. A second signal cancels at once.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peak_tui import daemon
from peak_tui.errors import Conflict, PeakError
from peak_tui.locks import FileLock
from peak_tui.store import now_iso

log = logging.getLogger("peak_tui.daemon")
TICK_SECONDS = 1.0
LOCK_RETRY_SECONDS = 1.0  # a `daemon status` probe holds a shared lock for microseconds


def _take_lock(path: Path) -> FileLock:
    lock = FileLock(path)
    deadline = time.monotonic() + LOCK_RETRY_SECONDS
    while not lock.acquire():
        if time.monotonic() >= deadline:
            status = daemon._read_status(path)
            where = f" (pid {status.pid}, {status.url}, since {status.started_at})" if status else ""
            raise Conflict(f"a daemon already serves this workspace{where}; stop it with "
                           f"`peak-tui daemon stop` or use it")
        time.sleep(0.05)
    return lock


def _pause(next_due: datetime | None, tick: float) -> float:
    """Sleep until the next slot, but at most ``tick`` (other processes may add feeds meanwhile)."""
    if next_due is None:
        return tick
    return min(tick, max(0.01, (next_due - datetime.now(UTC)).total_seconds() + 0.005))


def serve(home: str | Path | None, *, host: str | None = None, port: int | None = None,
          grace: float | None = None, workers: int | None = None,
          tick: float = TICK_SECONDS) -> int:
    """Run the daemon in this process until SIGTERM/SIGINT; returns an exit code."""
    from peak_tui import watchers  # noqa: F401 - notifications for the runs it starts
    from peak_tui.dispatcher import Dispatcher
    from peak_tui.recovery import recover_stale_runs
    from peak_tui.schedule_state import refresh_all
    from peak_tui.webhook import WebhookServer
    from peak_tui.workspace import Workspace, resolve_home

    ws = Workspace(resolve_home(home), recover=False)
    cfg = daemon.config(ws)
    opts: dict[str, Any] = {"host": host, "port": port, "grace": grace, "workers": workers}
    cfg.update({k: daemon.check_setting(k, v) for k, v in opts.items() if v is not None})
    lock = _take_lock(daemon.lock_path(ws))
    settled = recover_stale_runs(ws)  # runs a killed daemon (or CLI) left behind
    if settled:
        log.warning("settled %d run(s) whose process had died (see peak-tui runs)", settled)
    dispatcher = Dispatcher(ws, workers=int(cfg["workers"]))
    try:
        server = WebhookServer(ws, dispatcher, cfg["host"], int(cfg["port"]),
                               public_url=str(cfg["public_url"] or "")).start()
    except OSError as e:
        lock.release()
        raise PeakError(f"cannot listen on {cfg['host']}:{cfg['port']}: {e.strerror or e}; choose "
                        f"another with --port or `peak-tui daemon config --port N`",
                        title="Daemon failed") from None
    status = daemon.DaemonStatus(pid=os.getpid(), host=str(cfg["host"]), port=server.port,
                                 started_at=now_iso(), workers=int(cfg["workers"]),
                                 grace=float(cfg["grace"]))
    lock.write_note(json.dumps(asdict(status)))
    stop, force = threading.Event(), threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set():
            force.set()
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info("serving workspace %s (pid %d): webhooks at %s/hooks/<feed>/<token>, %d workers, "
             "grace %.0f s", ws.home, status.pid, server.url, status.workers, status.grace)
    try:
        refresh_all(ws)
        while not stop.is_set():
            try:
                dispatcher.tick()
            except Exception:  # a bad tick is logged; the daemon keeps serving
                log.exception("scheduler pass failed")
            stop.wait(_pause(dispatcher.next_due, tick))
        log.info("stopping: no new runs; %d in progress (a second signal cancels them now)",
                 len(dispatcher.active()))
    finally:
        server.stop()
        dispatcher.shutdown(float(cfg["grace"]), force)
        for s, handler in previous.items():
            signal.signal(s, handler)
        lock.write_note("")
        lock.release()
        log.info("stopped")
    return 0
