"""The `serve` daemon from the outside: its settings, whether it runs, starting and stopping it.

One daemon per workspace: it holds an exclusive flock on ``locks/daemon.lock`` for its whole life
and writes its status (pid, host, port, started_at) into that file as JSON. Liveness comes from the
lock, never from the pid alone, so a stale file left by a killed daemon reads as "not running".
"""
from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peak_tui.errors import Conflict, PeakError, ValidationError

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

DEFAULTS: dict[str, Any] = {
    "host": "127.0.0.1", "port": 8788, "grace": 30.0, "workers": 4, "public_url": "",
}
START_TIMEOUT = 30.0
LOG_TAIL_LINES = 30


@dataclass
class DaemonStatus:
    """A running daemon: its process, where its webhook endpoint listens, and since when."""

    pid: int
    host: str
    port: int
    started_at: str
    workers: int = 0
    grace: float = 0.0
    ready: bool = True  # False only in the instant between taking the lock and listening

    @property
    def url(self) -> str:
        """The base URL of its HTTP endpoint."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the URL."""
        return {**asdict(self), "url": self.url}


def lock_path(ws: Workspace) -> Path:
    """The daemon's lock and status file."""
    return ws.locks_dir / "daemon.lock"


def log_path(ws: Workspace) -> Path:
    """Where a daemon started by ``spawn_daemon`` writes its output."""
    return ws.home / "logs" / "daemon.log"


# ----------------------------------------------------------------------------------- settings
def config(ws: Workspace) -> dict[str, Any]:
    """The daemon settings (``daemon.host``, ``.port``, ``.grace``, ``.workers``, ``.public_url``)."""
    return {k: ws.store.get_setting(f"daemon.{k}", v) for k, v in DEFAULTS.items()}


def check_setting(key: str, value: Any) -> Any:
    """Validate one daemon setting; returns the clean value."""
    from peak_tui.validation import http_url

    field = f"daemon.{key}"
    if key == "host":
        if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
            raise ValidationError(field, "must be a host name or IP address, e.g. 127.0.0.1", value)
        return value.strip()
    if key == "port":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise ValidationError(field, "must be a port number from 1 to 65535 (0: any free port)", value)
        return value
    if key == "workers":
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 64:
            raise ValidationError(field, "must be a whole number of worker threads from 1 to 64", value)
        return value
    if key == "grace":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
            raise ValidationError(field, "must be a number of seconds from 0 to 3600", value)
        return float(value)
    if key == "public_url":
        return "" if not value else http_url(field, value).rstrip("/")
    raise ValidationError("daemon", f"has no setting {key!r}; settings: {', '.join(DEFAULTS)}", key)


def set_config(ws: Workspace, **changes: Any) -> dict[str, Any]:
    """Validate and store daemon settings; returns them all."""
    clean = {k: check_setting(k, v) for k, v in changes.items()}
    for k, v in clean.items():
        ws.store.set_setting(f"daemon.{k}", v)
    return config(ws)


# ------------------------------------------------------------------------------------- status
def _read_status(path: Path) -> DaemonStatus | None:
    try:
        data = json.loads(path.read_text() or "null")
        if not isinstance(data, dict):
            return None
        return DaemonStatus(**{k: v for k, v in data.items() if k in DaemonStatus.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def daemon_status(ws: Workspace) -> DaemonStatus | None:
    """The daemon serving this workspace, or None when none runs (judged by its flock)."""
    path = lock_path(ws)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:  # a shared lock is free exactly when no daemon holds the exclusive one
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
    finally:
        os.close(fd)
    for _ in range(40):  # the daemon writes its status as soon as it listens
        status = _read_status(path)
        if status is not None:
            return status
        time.sleep(0.05)
    return DaemonStatus(pid=0, host="", port=0, started_at="", ready=False)


def _tail(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    lines = text.strip().splitlines()[-LOG_TAIL_LINES:]
    return "\n".join(lines) or "(the log is empty)"


def spawn_daemon(ws: Workspace, *, host: str | None = None, port: int | None = None,
                 timeout: float = START_TIMEOUT) -> int:
    """Start ``peak-tui serve`` for this workspace in the background; returns its pid once it serves."""
    running = daemon_status(ws)
    if running is not None:
        raise Conflict(f"a daemon already serves this workspace (pid {running.pid}, {running.url})")
    out_path = log_path(ws)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "peak_tui", "--home", str(ws.home), "serve"]
    if host is not None:
        cmd += ["--host", host]
    if port is not None:
        cmd += ["--port", str(port)]
    with open(out_path, "ab") as out:
        offset = out.tell()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd=ws.home)
    # reap it whenever it exits, so a long-lived caller (the TUI) leaves no zombie
    threading.Thread(target=proc.wait, name="peak-daemon-reaper", daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = daemon_status(ws)
        if status is not None and status.pid == proc.pid and status.ready:
            return proc.pid
        if proc.poll() is not None:
            raise PeakError(f"the daemon exited during start-up (exit code {proc.returncode}); "
                            f"{out_path} says:\n{_tail(out_path, offset)}", title="Daemon failed")
        time.sleep(0.1)
    raise PeakError(f"the daemon (pid {proc.pid}) did not report ready within {timeout:.0f} s; "
                    f"{out_path} says:\n{_tail(out_path, offset)}", title="Daemon failed")


def stop_daemon(ws: Workspace, *, timeout: float | None = None) -> DaemonStatus | None:
    """Ask the daemon to stop (SIGTERM) and wait until it has; returns what was stopped, or None."""
    status = daemon_status(ws)
    if status is None:
        return None
    if status.pid <= 0:
        raise PeakError("the daemon is still starting; try again in a moment", title="Daemon busy")
    try:
        os.kill(status.pid, signal.SIGTERM)
    except ProcessLookupError:
        return status
    wait = timeout if timeout is not None else status.grace + 90.0
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if daemon_status(ws) is None:
            return status
        time.sleep(0.1)
    raise PeakError(f"the daemon (pid {status.pid}) is still stopping after {wait:.0f} s; its runs may "
                    f"be finishing; see {log_path(ws)}", title="Daemon busy")
