"""Parent side of a script run: spawn the child in the feed's environment, stream logs, read records.

The child gets its config (script, metadata, connection with secrets) through a pipe, never through
argv or its environment; records come back over a second pipe; stdout and stderr are the logs.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import selectors
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from peak_tui.runtime.logbuffer import LogBuffer

if TYPE_CHECKING:
    from peak_tui.runtime.warm import Spare

CHILD_DIR = Path(__file__).parent / "child"
BOOTSTRAP = CHILD_DIR / "_peak_bootstrap.py"
F_SETPIPE_SZ = 1031
# A log line is redacted whole up to this size; only longer lines are cut (a secret in a one-line
# JSON response a few hundred KB long must not be split across two unredacted pieces).
LOG_LINE_MAX = 1 << 20
# The lines kept for finding the traceback are cut to this size, so they cannot hold much memory.
RECENT_LINE_MAX = 8192

# Variables a script may inherit; everything else (tokens, cloud keys, ...) stays behind.
ENV_ALLOW = (
    "PATH", "LANG", "LANGUAGE", "TZ", "HOME", "USER", "LOGNAME", "TERM",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
)


@dataclass
class Limits:
    """What a script may use before it is stopped."""

    timeout_seconds: float = 3600
    memory_mb: int | None = 2048
    cpu_seconds: int | None = None
    file_size_mb: int | None = 1024
    processes: int | None = 64
    max_record_bytes: int = 64 * 1024 * 1024
    max_log_bytes: int = 4 * 1024 * 1024
    # Past this much output the log is drained and counted, not kept line by line: a script that
    # prints a gigabyte cannot flood the caller or the engine's memory.
    max_log_output_bytes: int = 256 * 1024 * 1024


@dataclass
class ScriptOutcome:
    """How a script run ended, and what it handed back."""

    ok: bool
    exit_code: int | None
    records: int
    metadata: dict[str, Any] | None
    error: str | None = None
    traceback: str | None = None
    error_line: int | None = None
    cancelled: bool = False
    timed_out: bool = False
    duration: float = 0.0
    log: LogBuffer = field(default_factory=LogBuffer)


class RecordSinkError(Exception):
    """The sink refused records (bad JSON, destination failure); the run stops."""


def child_env(tmpdir: Path) -> dict[str, str]:
    """The allow-listed environment for a script."""
    env = {k: os.environ[k] for k in ENV_ALLOW if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
    env["TMPDIR"] = str(tmpdir)
    env["PYTHONIOENCODING"] = "utf-8"
    env.setdefault("PATH", "/usr/bin:/bin")
    return env


def spawn_child(python: str, workdir: Path, *, warm: bool = False) -> tuple[subprocess.Popen[bytes], int, int]:
    """Start the bootstrap in `python`'s environment, in its own session, in `workdir`.

    Returns the child with our ends of its config and records pipes. A `warm` child imports
    requests before it waits for its config (see runtime/warm.py).
    """
    cfg_r, cfg_w = os.pipe()
    rec_r, rec_w = os.pipe()
    try:
        fcntl.fcntl(rec_r, F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [python, "-E", "-s", "-X", "utf8", str(BOOTSTRAP), str(cfg_r), str(rec_w), str(os.getpid()),
             *(["warm"] if warm else [])],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(cfg_r, rec_w),
            cwd=workdir,
            env=child_env(workdir),
            start_new_session=True,
        )
    except BaseException:
        os.close(cfg_w)
        os.close(rec_r)
        raise
    finally:
        os.close(cfg_r)
        os.close(rec_w)
    return proc, cfg_w, rec_r


class ScriptProcess:
    """One run of a feed's script in a child process."""

    def __init__(
        self,
        python: Path | str,
        config: dict[str, Any],
        *,
        limits: Limits,
        on_log: Callable[[str], None],
        on_records: Callable[[list[bytes]], None],
        redact: Callable[[str], str] = lambda s: s,
        cancel: threading.Event | None = None,
        workdir: Path,
        spare: Spare | None = None,
    ) -> None:
        self.python = str(python)
        self.config = dict(config)
        self.limits = limits
        self.on_log = on_log
        self.on_records = on_records
        self.redact = redact
        self.cancel = cancel or threading.Event()
        self.workdir = workdir
        """The script's working directory (a spare's own, when one is used); the caller removes it."""
        self.spare = spare
        self.script_name = self.config.get("script_name", "feed.py")
        self._recent: deque[str] = deque(maxlen=400)
        self.log = LogBuffer(limits.max_log_bytes)
        self.proc: subprocess.Popen[bytes] | None = None

    def emit(self, line: str) -> None:
        """Record an engine or script log line and pass it on."""
        self.log.append(line)
        self._recent.append(line if len(line) <= RECENT_LINE_MAX else line[:RECENT_LINE_MAX])
        self.on_log(line)

    def _log_reader(self, stream: Any) -> None:
        seen = 0
        cap = self.limits.max_log_output_bytes
        while True:
            raw = stream.readline(LOG_LINE_MAX)
            if not raw:
                return
            seen += len(raw)
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.emit(self.redact(text))
            if seen > cap:
                break
        self.emit(f"[peak] the script has printed over {cap // (1024 * 1024):,} MB of logs; "
                  "further output is counted but not kept")
        dropped = 0
        while True:
            chunk = stream.read1(1 << 20)
            if not chunk:
                break
            dropped += len(chunk)
        self.log.count_discarded(dropped)  # the stored size says how much the script printed
        self.emit(f"[peak] {dropped:,} more bytes of log output were discarded")

    def _count_processes(self) -> int:
        """Processes in the script's session (it may fork; RLIMIT_NPROC does not bind root)."""
        assert self.proc is not None
        sid = self.proc.pid
        n = 0
        try:
            entries = os.listdir("/proc")
        except OSError:
            return 0
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2:].split()
            if len(fields) > 3 and int(fields[3]) == sid:
                n += 1
        return n

    def run(self) -> ScriptOutcome:
        """Run the script to completion, cancellation or timeout."""
        started = time.monotonic()
        self.config["limits"] = {
            "memory_mb": self.limits.memory_mb,
            "cpu_seconds": self.limits.cpu_seconds,
            "file_size_mb": self.limits.file_size_mb,
            "processes": self.limits.processes,
        }
        self.config["max_record_bytes"] = self.limits.max_record_bytes
        if self.spare is not None:  # started earlier, requests imported, waiting for this config
            self.proc, cfg_w, rec_r = self.spare.proc, self.spare.config_fd, self.spare.records_fd
            self.workdir = self.spare.workdir
        else:
            self.proc, cfg_w, rec_r = spawn_child(self.python, self.workdir)
        assert self.proc.stdout is not None
        reader = threading.Thread(target=self._log_reader, args=(self.proc.stdout,), daemon=True)
        reader.start()
        writer = threading.Thread(target=self._send_config, args=(cfg_w,), daemon=True)
        writer.start()
        try:
            outcome = self._pump_records(rec_r, started)
        except BaseException:
            # the sink failed in an unexpected way (disk full, a bug): the script must not outlive
            # its run, blocked on a records pipe nobody reads
            self._kill()
            self.proc.wait()
            raise
        finally:
            os.close(rec_r)
        if outcome.cancelled or outcome.timed_out or outcome.error:
            self._kill()
        exit_code = self.proc.wait()
        self._kill()  # whatever the script left running in its group goes too
        reader.join(timeout=5)
        writer.join(timeout=1)
        outcome.exit_code = exit_code
        outcome.duration = time.monotonic() - started
        self._explain(outcome)
        outcome.log = self.log
        return outcome

    def _send_config(self, fd: int) -> None:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(self.config).encode())
        except (BrokenPipeError, OSError):
            pass

    def _kill(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _pump_records(self, fd: int, started: float) -> ScriptOutcome:
        out = ScriptOutcome(ok=False, exit_code=None, records=0, metadata=None)
        deadline = started + self.limits.timeout_seconds
        max_line = self.limits.max_record_bytes + 2
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        parts: list[bytes] = []  # the unfinished last line, in the chunks it arrived in
        parts_len = 0
        done = False
        max_procs = self.limits.processes
        next_proc_check = started + 0.05
        try:
            exited = False
            while True:
                if self.cancel.is_set():
                    out.cancelled = True
                    return out
                if time.monotonic() > deadline:
                    out.timed_out = True
                    return out
                if max_procs and time.monotonic() >= next_proc_check:
                    next_proc_check = time.monotonic() + 0.25
                    if self._count_processes() > max_procs:
                        out.error = (f"the script started more than {max_procs} processes "
                                     "and was stopped (process limit)")
                        return out
                if not sel.select(timeout=0.1):
                    if exited:
                        break  # drained after the exit: everything the script wrote is read
                    if self.proc is not None and self.proc.poll() is not None:
                        # the script has exited; a process it left in the background may still
                        # hold the write end, so EOF could be hours away: drain, then stop
                        exited = True
                    continue
                data = os.read(fd, 1 << 20)
                if not data:
                    break
                lines: list[bytes] = []
                if b"\n" not in data:  # the middle of a long record: collect, do not re-copy
                    parts.append(data)
                    parts_len += len(data)
                    if parts_len <= max_line:
                        continue
                else:
                    if parts:
                        data = b"".join(parts) + data
                        parts.clear()
                    lines = data.split(b"\n")
                    pending = lines.pop()
                    if pending:
                        parts.append(pending)
                    parts_len = len(pending)
                if parts_len > max_line:
                    out.error = (
                        f"record #{out.records} is over the limit of "
                        f"{self.limits.max_record_bytes:,} bytes"
                    )
                    return out
                batch: list[bytes] = []
                for line in lines:
                    if line[:1] == b"{":
                        batch.append(line)
                        continue
                    kind = line[:1]
                    if kind == b"M":
                        out.metadata = orjson.loads(line[1:])
                    elif kind == b"E":
                        out.error = orjson.loads(line[1:]).get("error")
                    elif kind == b"D":
                        done = True
                    elif kind == b"R":
                        pass  # a warm spare said it was ready (runtime/warm.py)
                    elif line:
                        out.error = "the script wrote data that is not a record to the records channel"
                        return out
                if batch:
                    out.records += len(batch)
                    try:
                        self.on_records(batch)
                    except RecordSinkError as e:
                        out.error = str(e)
                        return out
        finally:
            sel.close()
        out.ok = done and out.error is None
        return out

    _TB_START = "Traceback (most recent call last):"

    def _explain(self, out: ScriptOutcome) -> None:
        """Fill the error summary, the traceback and the failing script line."""
        recent = list(self._recent)
        # `in`, not startswith: output without a newline (an input() prompt) can precede it
        starts = [i for i, line in enumerate(recent) if self._TB_START in line]
        # a script that finished may still have logged a handled exception (logging.exception in
        # a retry loop): that traceback is not the run's failure
        finished = out.ok and out.exit_code == 0 and not (out.cancelled or out.timed_out)
        if starts and not finished:
            tb_lines = recent[starts[-1]:]
            tb_lines[0] = tb_lines[0][tb_lines[0].index(self._TB_START):]
            out.traceback = "\n".join(tb_lines)
            pattern = re.compile(r'File "' + re.escape(self.script_name) + r'", line (\d+)')
            hits = [int(m.group(1)) for m in (pattern.search(x) for x in tb_lines) if m]
            if hits:
                out.error_line = hits[-1]
            last = next((x for x in reversed(tb_lines) if x.strip()), "")
            if out.error is None:
                out.error = last.strip()
                if out.error == "MemoryError" and self.limits.memory_mb:
                    out.error = (f"MemoryError: the script went over its memory limit of "
                                 f"{self.limits.memory_mb:,} MB (feed.memory_mb)")
                elif out.error.startswith("ModuleNotFoundError: No module named "):
                    out.error += " (add the package that provides it to the feed's dependencies)"
                elif "[Errno 27]" in out.error and self.limits.file_size_mb:  # EFBIG
                    out.error += (f" (a file the script wrote went over the file size limit of "
                                  f"{self.limits.file_size_mb:,} MB)")
        if out.cancelled:
            out.ok = False
            out.error = "cancelled"
        elif out.timed_out:
            out.ok = False
            out.error = f"timed out after {self.limits.timeout_seconds:g} s; the script was killed"
        elif out.exit_code and out.exit_code < 0:
            sig = -out.exit_code
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = f"signal {sig}"
            reason = {
                "SIGKILL": "killed (SIGKILL), possibly over its memory limit",
                "SIGXCPU": f"over its CPU time limit of {self.limits.cpu_seconds} s (SIGXCPU)",
                "SIGXFSZ": f"over its file size limit of {self.limits.file_size_mb} MB (SIGXFSZ)",
            }.get(name, f"killed by {name}")
            out.ok = False
            out.error = out.error or f"the script was {reason}"
        elif out.exit_code and out.error is None:
            out.error = f"the script exited with status {out.exit_code}"
        elif out.exit_code == 0 and not out.ok and out.error is None:
            out.error = "the script ended without finishing its records (the engine saw no end marker)"
        if out.exit_code not in (0, None):
            out.ok = False
        if out.error and out.ok:
            out.ok = False
        if out.error:
            out.error = self.redact(out.error)
