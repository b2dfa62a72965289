"""Helpers for the fault suite: the CLI as a process, process checks, polling, a holding HTTP server.

Fixtures live in conftest.py; these are plain functions and classes the test modules import.
"""
from __future__ import annotations

import dataclasses
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from peak_tui.workspace import Workspace

PY = sys.executable


@dataclasses.dataclass
class CounterFeed:
    """A workspace (closed) holding the counter feed `feed`, and its hooks directory."""

    home: Path
    hooks: Path
    feed: str = "counter"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI process: ours without PEAK_TUI_HOME, no keyring, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PEAK_TUI_HOME", "PEAK_TUI_FAULTS")}
    env["PEAK_TUI_KEYRING"] = "0"
    env.update(extra or {})
    return env


def _limit_fsize(nbytes: int | None) -> Callable[[], None] | None:
    if nbytes is None:
        return None

    def pre() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))

    return pre


def spawn_cli(home: Path, *args: str, env: dict[str, str] | None = None,
              fsize: int | None = None) -> subprocess.Popen[str]:
    """Start `peak-tui --home HOME ARGS` as a real process (own session; stdout/stderr piped)."""
    return subprocess.Popen([PY, "-m", "peak_tui", "--home", str(home), *args], env=cli_env(env),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_limit_fsize(fsize))


def run_cli(home: Path, *args: str, env: dict[str, str] | None = None, fsize: int | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `peak-tui --home HOME ARGS` to the end; `fsize` sets RLIMIT_FSIZE on the runner."""
    return subprocess.run([PY, "-m", "peak_tui", "--home", str(home), *args], env=cli_env(env),
                          stdin=subprocess.DEVNULL if input is None else None, input=input,
                          capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit_fsize(fsize))


_BATCH = """\
import contextlib, io, json, sys
from peak_tui.cli import main
results = []
for argv in json.loads(sys.stdin.read()):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
    results.append([argv, code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def run_cli_batch(home: Path, *commands: list[str], env: dict[str, str] | None = None,
                  timeout: float = 180) -> tuple[list[tuple[list[str], int, str, str]], str]:
    """Run many CLI commands through `cli.main` in ONE process (saves ~0.6 s of start-up each).

    Returns (argv, exit code, stdout, stderr) per command, and the process's own stderr.
    """
    argvs = [["--home", str(home), *c] for c in commands]
    proc = subprocess.run([PY, "-c", _BATCH], input=json.dumps(argvs), env=cli_env(env),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [tuple(r) for r in json.loads(proc.stdout)], proc.stderr  # type: ignore[misc]


_RSS_WRAPPER = """\
import json, resource, sys
from peak_tui.cli import main
peaks = []
for argv in json.loads(sys.argv[1]):
    code = main(argv)
    peaks.append([code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss])
print("PEAKS " + json.dumps(peaks), file=sys.stderr)
"""


def run_cli_measuring_rss(home: Path, *commands: list[str],
                          timeout: float = 180) -> tuple[list[tuple[int, int]], str]:
    """Run CLI commands one after another in ONE process; (exit code, peak RSS KiB) after each."""
    argvs = [["--home", str(home), *c] for c in commands]
    proc = subprocess.run([PY, "-c", _RSS_WRAPPER, json.dumps(argvs)], env=cli_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    line = next((x for x in proc.stderr.splitlines() if x.startswith("PEAKS ")), None)
    assert line is not None, proc.stderr[-2000:]
    return [(int(c), int(r)) for c, r in json.loads(line[6:])], proc.stdout + proc.stderr


def proc_state(pid: int) -> str | None:
    """The process's state letter (R, S, Z, ...), or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat[stat.rfind(b")") + 2:].split()[0].decode()


def alive(pid: int) -> bool:
    """Running or sleeping (a zombie waiting for a reaper counts as gone)."""
    return proc_state(pid) not in (None, "Z", "X")


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            out.append(int(entry))
    return out


def wait_for(pred: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll `pred` every 20 ms until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)


def ids_and_metadata(home: Path, feed: str) -> tuple[list[int], dict[str, Any]]:
    """Reopen the workspace (settling dead runs) and check a counter feed's invariants.

    No run is left queued/running; the warehouse holds ids 0..next-1 each exactly once; the feed's
    metadata equals the destination's last commit. Returns (ids, metadata).
    """
    ws = Workspace.open(home)
    try:
        assert ws.runs.active() == [], "a run was left queued/running"
        ids: list[int] = []
        if feed in ws.local.tables():
            ids = [r[0] for r in ws.local.query(f'SELECT id FROM "{feed}" ORDER BY id')[1]]
        meta = ws.feeds.metadata(feed)
        assert ids == list(range(meta.get("next", 0))), f"warehouse {len(ids)} ids, metadata {meta}"
        commit = ws.local.last_commit(feed)
        assert (commit.metadata if commit else {}) == meta
        return ids, meta
    finally:
        ws.close()


def last_run(home: Path, feed: str) -> Any:
    """The newest run of a feed (after recovery), with its stored log as `.log`."""
    ws = Workspace.open(home)
    try:
        run = ws.runs.list(feed, limit=1)[0]
        run.log = ws.runs.logs(run.id)
        return run
    finally:
        ws.close()


class HoldingServer:
    """HTTP on 127.0.0.1: while `hold` is set, requests wait (up to 60 s) before they are answered.

    `arrived` is set by the first request; `answer(method, path, body)` returns (status, payload):
    JSON for a dict or list, the bytes as they are for bytes.
    """

    def __init__(self, answer: Callable[[str, str, bytes], tuple[int, Any]]) -> None:
        self.answer = answer
        self.hold = threading.Event()
        self.hold.set()
        self.arrived = threading.Event()
        self.released = threading.Event()
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.paths.append(self.path)
                outer.arrived.set()
                if outer.hold.is_set():
                    outer.released.wait(60)
                status, payload = outer.answer(self.command, self.path, body)
                raw = isinstance(payload, bytes)
                data = payload if raw else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain" if raw else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        """Base URL with the real port."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def release(self) -> None:
        """Answer every held request and stop holding new ones."""
        self.hold.clear()
        self.released.set()

    def close(self) -> None:
        """Release held requests and stop the server."""
        self.release()
        self.server.shutdown()
        self.server.server_close()
