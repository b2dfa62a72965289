"""Watchers: notify by email or webhook when a run succeeds, fails, or runs longer than N minutes.

Importing this module registers its hooks in ``execution.RUN_STARTED_HOOKS`` and
``RUN_FINISHED_HOOKS`` (and the SMTP and webhook secrets with the redactor), so every process that
runs feeds must import it once. ``runtime_exceeded`` fires from a timer while the run is still
going; the timer is cancelled when the run ends. Deliveries run in their own (non-daemon) threads,
are retried with backoff, are logged on the run, and never fail it. A cancelled run counts as a
failure.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peak_tui import execution, notify
from peak_tui import webhook_keys as _webhook_keys  # noqa: F401 - registers webhook secrets
from peak_tui.notify_settings import load_smtp

if TYPE_CHECKING:
    from peak_tui.models import Feed, Run
    from peak_tui.workspace import Workspace

log = logging.getLogger("peak_tui.watchers")
# Seconds in a watcher's "minute"; tests shrink it to see runtime_exceeded fire in-process.
SECONDS_PER_MINUTE = 60.0
EVENT_OF_STATUS = {"succeeded": "success", "failed": "failure", "cancelled": "failure"}


@dataclass
class _Live:
    """A run in progress in this process: its runtime timers and log lines waiting for its end."""

    started: float
    timers: list[threading.Timer] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    finished: bool = False


_lock = threading.Lock()
_live: dict[int, _Live] = {}
_deliveries: list[threading.Thread] = []


def _append_log(ws: Workspace, run_id: int, line: str) -> None:
    """Add a line to the run's stored log; held back until the run has written its own log."""
    line = f"[peak] {line}"
    log.info("run #%d: %s", run_id, line)
    with _lock:
        live = _live.get(run_id)
        if live is not None and not live.finished:
            live.pending.append(line)
            return
    _write_log(ws, run_id, [line])


def _write_log(ws: Workspace, run_id: int, lines: list[str]) -> None:
    if not lines:
        return
    text = "".join(f"{ws.redactor().redact(x)}\n" for x in lines)
    with ws.store.write() as c:
        cur = c.execute("UPDATE run_logs SET text = text || ?, size = size + ? WHERE run_id=?",
                        (text, len(text.encode()), run_id))
        if cur.rowcount == 0:
            c.execute("INSERT OR IGNORE INTO run_logs(run_id, text, size) VALUES (?,?,?)",
                      (run_id, text, len(text.encode())))


def run_fields(run: Run, event: str, **extra: Any) -> dict[str, Any]:
    """The fields a notification can use (see ``notify.FIELDS``)."""
    duration = run.duration
    return {
        "feed": run.feed, "run_id": run.id, "status": run.status, "records": run.records,
        "duration": round(duration, 1) if duration is not None else None, "error": run.error,
        "event": event, "trigger": run.trigger, "started_at": run.started_at,
        "ended_at": run.ended_at, "failed_rows": run.failed_rows, "catch_up": run.catch_up,
        "runtime_minutes": None, **extra,
    }


def _describe(watcher: dict[str, Any]) -> str:
    if watcher.get("channel") == "email":
        return f"email watcher ({', '.join(watcher.get('to') or [])})"
    return f"webhook watcher {watcher.get('name')!r} ({notify.safe_url(str(watcher.get('url')))})"


def deliver(ws: Workspace, watcher: dict[str, Any], fields: dict[str, Any]) -> bool:
    """Send one notification now (retrying), logging each attempt on the run; True if delivered."""
    what = _describe(watcher)
    event, run_id = fields["event"], int(fields["run_id"])

    def send() -> str:
        if watcher.get("channel") == "email":
            smtp = load_smtp(ws)
            if smtp is None:
                raise notify.DeliveryError("SMTP is not set up: run `peak-tui smtp set`", retry=False)
            text = notify.summary(fields)
            body = text + "\n\n" + "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None)
            return notify.send_email(smtp, list(watcher["to"]), f"[peak-tui] {text}", body)
        return notify.post_webhook(str(watcher["url"]), notify.render_payload(watcher.get("payload"),
                                                                              fields))

    def on_attempt(attempt: int, error: str, wait: float | None) -> None:
        if wait is not None:
            _append_log(ws, run_id, f"{what}: {event} notification attempt {attempt} failed "
                                    f"({error}); retrying in {wait:g} s")

    try:
        ok, message = notify.with_retries(send, on_attempt)
    except Exception as e:  # noqa: BLE001 - a bug in a channel must not escape into a run
        ok, message = False, f"{type(e).__name__}: {e}"
    verdict = "delivered" if ok else "NOT delivered"
    _append_log(ws, run_id, f"{what}: {event} notification {verdict}: {message}")
    return ok


def _spawn(ws: Workspace, watcher: dict[str, Any], fields: dict[str, Any]) -> None:
    t = threading.Thread(target=deliver, args=(ws, watcher, fields), name="peak-notify")
    with _lock:
        _deliveries[:] = [d for d in _deliveries if d.is_alive()]
        _deliveries.append(t)
    t.start()


def wait_idle(timeout: float = 30.0) -> bool:
    """Wait for deliveries in flight (tests, short-lived CLI runs); True when none is left."""
    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            alive = [d for d in _deliveries if d.is_alive()]
        if not alive:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        alive[0].join(remaining)


def _runtime_exceeded(ws: Workspace, watcher: dict[str, Any], run_id: int) -> None:
    with _lock:
        live = _live.get(run_id)
        if live is None or live.finished:
            return
    run = ws.runs.get(run_id)
    if run.status not in ("queued", "running"):
        return
    fields = run_fields(run, "runtime_exceeded", runtime_minutes=watcher.get("runtime_minutes"),
                        duration=round(time.monotonic() - live.started, 1))
    _spawn(ws, watcher, fields)


def on_run_started(ws: Workspace, feed: Feed, run_id: int) -> None:
    """RUN_STARTED_HOOKS: start a runtime timer for each runtime_exceeded watcher."""
    live = _Live(started=time.monotonic())
    for w in feed.watchers or []:
        if "runtime_exceeded" in (w.get("events") or []) and w.get("runtime_minutes"):
            t = threading.Timer(float(w["runtime_minutes"]) * SECONDS_PER_MINUTE, _runtime_exceeded,
                                args=(ws, w, run_id))
            t.daemon = True
            t.name = f"peak-watch-{run_id}"
            live.timers.append(t)
    with _lock:
        _live[run_id] = live
    for t in live.timers:
        t.start()


def on_run_finished(ws: Workspace, feed: Feed, run: Run) -> None:
    """RUN_FINISHED_HOOKS: stop the timers, flush held-back log lines, notify success/failure."""
    with _lock:
        live = _live.pop(run.id, None)
        if live is not None:
            live.finished = True
    if live is not None:
        for t in live.timers:
            t.cancel()
        _write_log(ws, run.id, live.pending)
    event = EVENT_OF_STATUS.get(run.status)
    if event is None:
        return
    for w in feed.watchers or []:
        if event in (w.get("events") or []):
            _spawn(ws, w, run_fields(run, event))


if on_run_started not in execution.RUN_STARTED_HOOKS:
    execution.RUN_STARTED_HOOKS.append(on_run_started)
if on_run_finished not in execution.RUN_FINISHED_HOOKS:
    execution.RUN_FINISHED_HOOKS.append(on_run_finished)
