"""Test and Run: prepare the environment and auth, run the script, and load or preview its records.

Run commits the records and the metadata together in the destination; the workspace database then
mirrors that commit. A run killed at any point leaves neither its records nor its metadata, or both.
"""
from __future__ import annotations

import errno
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from peak_tui import faults
from peak_tui.auth import script_connection
from peak_tui.destinations.base import json_type
from peak_tui.errors import Conflict, DestinationError, NotFound, PeakError
from peak_tui.locks import FileLock
from peak_tui.models import Feed, Run
from peak_tui.recovery import reconcile_feed, run_lock_path
from peak_tui.runtime.process import Limits, RecordSinkError, ScriptOutcome, ScriptProcess
from peak_tui.runtime.warm import POOL

if TYPE_CHECKING:
    from peak_tui.secrets import Redactor
    from peak_tui.workspace import Workspace

PREVIEW_LIMIT = 10
LogFn = Callable[[str], None]


@dataclass
class TestResult:
    """What Test shows: a preview of records, their columns, and the metadata before and after."""

    __test__ = False  # not a pytest test class, despite its name

    ok: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    columns: list[tuple[str, str]] = field(default_factory=list)
    metadata_before: dict[str, Any] = field(default_factory=dict)
    metadata_after: dict[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None
    error_line: int | None = None
    duration: float = 0.0
    log: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        d = dict(self.__dict__)
        d["columns"] = [{"name": n, "type": t} for n, t in self.columns]
        return d


class _Events:
    """Log lines from the engine, passed through the redactor and on to the caller."""

    def __init__(self, on_log: LogFn | None) -> None:
        self.on_log = on_log or (lambda line: None)
        self.process: ScriptProcess | None = None
        self.before: list[str] = []

    def __call__(self, line: str) -> None:
        line = line if line.startswith("[peak]") else f"[peak] {line}"
        if self.process is not None:
            self.process.emit(line)
        else:
            self.before.append(line)
            self.on_log(line)


def limits_for(feed: Feed) -> Limits:
    """The limits a feed's script runs under."""
    return Limits(timeout_seconds=feed.timeout_seconds, memory_mb=feed.memory_mb,
                  cpu_seconds=feed.timeout_seconds)


def _prepare(ws: Workspace, feed: Feed, events: _Events, redactor: Redactor,
             cancel: threading.Event | None) -> tuple[str, dict[str, Any]]:
    """Build or find the environment, and hand over the connection (doing custom auth)."""
    t0 = time.monotonic()
    deps = ", ".join(feed.dependencies) or "none beyond requests"
    events(f"environment: dependencies {deps}")
    python = ws.envs.ensure(feed.dependencies, log=lambda s: events(redactor.redact(f"install: {s}")),
                            cancel=cancel)
    events(f"environment ready in {time.monotonic() - t0:.2f} s")
    conn = ws.connections.get(feed.connection)
    spec = script_connection(conn, redactor, events)
    events(f"connection {conn.name} ({conn.auth_type})")
    return str(python), spec


def prewarm(ws: Workspace, dependencies: list[str]) -> bool:
    """Have a warm child ready for the next Test with these dependencies, if their environment is
    built and the process keeps spares (the app does); True if one was asked for. Never builds."""
    if not POOL.enabled:
        return False
    envs = ws.envs
    key = envs.key(dependencies)
    if not envs.is_ready(key):
        return False
    POOL.prepare(str(envs.python_path(key)), ws.tmp_dir)
    return True


def _script_config(feed: Feed, spec: dict[str, Any], metadata: dict[str, Any],
                   trigger: dict[str, Any]) -> dict[str, Any]:
    return {
        "script": feed.script, "script_name": f"{feed.name or 'feed'}.py", "metadata": metadata,
        "connection": spec, "trigger": trigger,
    }


def test_feed(ws: Workspace, feed: Feed, *, on_log: LogFn | None = None,
              cancel: threading.Event | None = None, metadata: dict[str, Any] | None = None) -> TestResult:
    """Run a feed's script (saved or not) with its current metadata; load nothing, commit nothing."""
    started = time.monotonic()
    events = _Events(on_log)
    redactor = ws.redactor()
    if metadata is None:
        metadata = ws.feeds.metadata(feed.name) if ws.feeds.exists(feed.name) else {}
    result = TestResult(ok=False, metadata_before=dict(metadata))
    preview: list[dict[str, Any]] = []
    columns: dict[str, str] = {}

    def sink(lines: list[bytes]) -> None:
        base = result.total
        for i, line in enumerate(lines):
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise RecordSinkError(f"record #{base + i} is not valid JSON: {e}") from None
            if len(preview) < PREVIEW_LIMIT:
                preview.append(rec)
            for k, val in rec.items():
                if k not in columns or columns[k] == "null":
                    columns[k] = json_type(val)
        result.total = base + len(lines)

    try:
        python, spec = _prepare(ws, feed, events, redactor, cancel)
        spare = POOL.take(python)
        events("test: the script runs with the current metadata; nothing is loaded or committed"
               + ("; a warm interpreter was waiting" if spare else ""))
        proc = ScriptProcess(
            python, _script_config(feed, spec, metadata, {"source": "test"}), limits=limits_for(feed),
            on_log=events.on_log, on_records=sink, redact=redactor.redact, cancel=cancel,
            workdir=ws.tmp_dir / f"test-{uuid.uuid4().hex}", spare=spare,
        )
        for line in events.before:
            proc.log.append(line)
        events.process = proc
        outcome = proc.run()
        shutil.rmtree(proc.workdir, ignore_errors=True)
        POOL.prepare(python, ws.tmp_dir)  # the next Test in this environment starts warm
        result.ok = outcome.ok
        result.error, result.traceback, result.error_line = outcome.error, outcome.traceback, outcome.error_line
        result.metadata_after = outcome.metadata
        events(f"test {'passed' if outcome.ok else 'failed'}: {result.total:,} records in "
               f"{outcome.duration:.2f} s" + ("" if outcome.ok else f" ({outcome.error})"))
        result.log = proc.log.text()
    except Exception as e:  # a PeakError, or an engine fault shown rather than raised into the UI
        msg = e.message if isinstance(e, PeakError) else f"{type(e).__name__}: {e}"
        result.error = redactor.redact(msg)
        events(f"test failed: {result.error}")
        result.log = "\n".join(events.before) + "\n"
    result.records = redactor.redact_obj(preview)
    # metadata is data and is stored as saved, but what Test shows is output: mask known secrets
    result.metadata_before = redactor.redact_obj(result.metadata_before)
    result.metadata_after = redactor.redact_obj(result.metadata_after)
    result.columns = list(columns.items())
    result.duration = time.monotonic() - started
    return result


test_feed.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, despite its name


class LiveLog:
    """Copies a running script's log into the run's stored log every few seconds, so other
    processes (the app watching a run the scheduler started) can follow it live."""

    INTERVAL = 2.0

    def __init__(self, ws: Workspace, run_id: int, proc: ScriptProcess) -> None:
        self.ws, self.run_id, self.proc = ws, run_id, proc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=f"live-log-{run_id}")
        self._thread.start()

    def _loop(self) -> None:
        written = -1
        while not self._stop.wait(self.INTERVAL):
            log = self.proc.log
            if log.total_bytes == written:
                continue
            written = log.total_bytes
            try:
                self.ws.runs.write_log(self.run_id, log.text(), log.total_bytes, log.truncated)
            except Exception:  # a busy database only delays the live copy; the final log is written
                pass
        self.ws.store.close()

    def stop(self) -> None:
        """Stop copying; the caller stores the final log."""
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Progress:
    """Live numbers of a run, for progress displays."""

    records: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Records per second so far."""
        return self.records / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class QueuedRun:
    """A run recorded as queued before it could start: its id is known and its lock is held."""

    run_id: int
    request_id: str
    lock: FileLock


def queue_run(ws: Workspace, name: str, trigger: str, *, catch_up: bool = False) -> QueuedRun:
    """Record a run of ``name`` as queued now; pass it to ``run_feed(queued=...)`` to start it.

    Its run lock is held from now on, so recovery in another process leaves it alone; a daemon
    that dies before starting it leaves a run that the next open settles as interrupted.
    """
    request_id = uuid.uuid4().hex
    lock = FileLock(run_lock_path(ws, request_id))
    lock.acquire()
    try:
        run_id = ws.runs.start(name, trigger, request_id, ws.feeds.metadata(name), catch_up=catch_up,
                               status="queued")
    except BaseException:
        lock.release(remove=True)
        raise
    return QueuedRun(run_id, request_id, lock)


def close_queued(ws: Workspace, queued: QueuedRun, status: str, reason: str) -> None:
    """Finish a queued run that never started (skipped or failed, with the reason) and unlock it."""
    try:
        if ws.runs.get(queued.run_id).status == "queued":
            ws.runs.finish(queued.run_id, status, error=reason, log_text=f"[peak] {reason}\n")
    finally:
        queued.lock.release(remove=True)


def run_feed(ws: Workspace, name: str, *, trigger: str = "manual", on_log: LogFn | None = None,
             on_progress: Callable[[Progress], None] | None = None,
             cancel: threading.Event | None = None, catch_up: bool = False,
             payload: Any = None, on_started: Callable[[int], None] | None = None,
             queued: QueuedRun | None = None) -> Run:
    """Run a feed once: load every record and commit the metadata with them, or neither.

    ``queued``: a run recorded earlier by ``queue_run``; it becomes this run (on failure to start,
    the caller closes it with ``close_queued``).
    """
    if not ws.feeds.exists(name):  # before the name becomes a lock file's path ("../x")
        raise NotFound(f"no feed named {name!r}")
    feed_lock = FileLock(ws.locks_dir / f"feed-{name}.lock")
    if not feed_lock.acquire():
        raise Conflict(f"feed {name!r} is already running ({feed_lock.read_note() or 'another process'})")
    try:
        return _run_locked(ws, name, feed_lock, trigger=trigger, on_log=on_log, on_progress=on_progress,
                           cancel=cancel, catch_up=catch_up, payload=payload, on_started=on_started,
                           queued=queued)
    finally:
        feed_lock.release()


def _run_locked(ws: Workspace, name: str, feed_lock: FileLock, *, trigger: str, on_log: LogFn | None,
                on_progress: Callable[[Progress], None] | None, cancel: threading.Event | None,
                catch_up: bool, payload: Any, on_started: Callable[[int], None] | None,
                queued: QueuedRun | None) -> Run:
    feed = ws.feeds.get(name)
    reconcile_feed(ws, name)
    metadata = ws.feeds.metadata(name)
    if queued is None:
        request_id = uuid.uuid4().hex
        run_lock = FileLock(run_lock_path(ws, request_id))
        run_lock.acquire()  # held for the whole run: tells recovery this run's owner is alive
        run_id = ws.runs.start(name, trigger, request_id, metadata, catch_up=catch_up)
    else:
        request_id, run_lock, run_id = queued.request_id, queued.lock, queued.run_id
        ws.runs.mark_running(run_id, metadata)
    feed_lock.write_note(f"run #{run_id}")
    if on_started:
        on_started(run_id)
    for hook in RUN_STARTED_HOOKS:
        try:
            hook(ws, feed, run_id)
        except Exception:  # a watcher problem never fails the run
            pass
    events = _Events(on_log)
    redactor = ws.redactor()
    started = time.monotonic()
    load = None
    proc: ScriptProcess | None = None
    status, error, committed, records, failed_rows = "failed", None, None, 0, 0
    try:
        events(f"run #{run_id} of feed {name} ({trigger}{', catch-up' if catch_up else ''}), "
               f"request id {request_id}")
        python, spec = _prepare(ws, feed, events, redactor, cancel)
        dest = ws.destination(feed.destination)
        load = active = dest.begin(name, request_id)  # `active`: never None, for the sink below
        load.failed_row_threshold = feed.failed_row_threshold
        count = [0]

        def sink(lines: list[bytes]) -> None:
            try:
                batch = [orjson.loads(line) for line in lines]
            except orjson.JSONDecodeError:
                for i, line in enumerate(lines):
                    try:
                        orjson.loads(line)
                    except orjson.JSONDecodeError as e:
                        raise RecordSinkError(f"record #{count[0] + i} is not valid JSON: {e}") from None
                raise
            try:
                active.write(batch)
            except PeakError as e:
                raise RecordSinkError(str(e)) from None
            except (sqlite3.Error, OSError) as e:
                raise RecordSinkError(storage_failure("staging the records", e)) from None
            count[0] += len(batch)
            faults.point("run.batch_written")
            if on_progress:
                on_progress(Progress(count[0], time.monotonic() - started))

        tmp = ws.tmp_dir / f"run-{request_id}"
        proc = ScriptProcess(
            python, _script_config(feed, spec, metadata, {"source": trigger, "payload": payload}),
            limits=limits_for(feed), on_log=events.on_log, on_records=sink, redact=redactor.redact,
            cancel=cancel, workdir=tmp,
        )
        for line in events.before:
            proc.log.append(line)
        events.process = proc
        flusher = LiveLog(ws, run_id, proc)
        try:
            outcome: ScriptOutcome = proc.run()
        finally:
            flusher.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        records = outcome.records
        if outcome.ok:
            new_meta = outcome.metadata if outcome.metadata is not None else metadata
            events(f"script finished: {records:,} records in {outcome.duration:.2f} s; committing")
            t0 = time.monotonic()
            faults.point("run.before_commit")
            try:
                load.commit(new_meta)
            except (sqlite3.Error, OSError) as e:
                raise DestinationError(storage_failure("the commit to the destination", e)) from None
            faults.point("run.after_commit")
            failed_rows = load.failed_rows
            if failed_rows:  # rejected rows are kept for inspection; say where
                events(f"{failed_rows:,} rows rejected by the destination; kept with reasons in "
                       f"{getattr(load, 'failed_rows_path', 'the failed_rows folder')}")
            load = None
            committed = (request_id, new_meta)
            status = "succeeded"
            events(f"committed {records:,} records and metadata {redactor.redact(_short(new_meta))} "
                   f"in {time.monotonic() - t0:.2f} s")
        else:
            status = "cancelled" if outcome.cancelled else "failed"
            error = outcome.error
            events(f"run {status}: {error}; nothing was loaded and the metadata is unchanged")
    except PeakError as e:
        error = redactor.redact(e.message)
        status = "cancelled" if cancel is not None and cancel.is_set() else "failed"
        events(f"run {status}: {error}; nothing was loaded and the metadata is unchanged")
    except Exception as e:  # an engine fault: record it on the run rather than lose the run
        error = redactor.redact(f"{type(e).__name__}: {e}")
        events(f"run failed with an internal error: {error}")
    finally:
        if load is not None:
            load.abort()
    duration = time.monotonic() - started
    events(f"duration {duration:.2f} s; status {status}")
    log = proc.log if proc is not None else None
    log_text = log.text() if log is not None else "\n".join(events.before) + "\n"
    ws.runs.finish(
        run_id, status, records=records if status == "succeeded" else 0, error=error,
        failed_rows=failed_rows,
        metadata_after=committed[1] if committed else None, log_text=log_text,
        log_size=log.total_bytes if log else len(log_text), log_truncated=bool(log and log.truncated),
        committed=committed,
    )
    faults.point("run.after_finish")
    run_lock.release(remove=True)
    run = ws.runs.get(run_id)
    for finished_hook in RUN_FINISHED_HOOKS:
        try:
            finished_hook(ws, feed, run)
        except Exception:  # a notification problem never fails the run
            pass
    return run


# Called with (workspace, feed, run_id) when a run starts; the runtime watcher registers here.
RUN_STARTED_HOOKS: list[Callable[[Workspace, Feed, int], None]] = []
# Called with (workspace, feed, run) after every run ends; watchers register here.
RUN_FINISHED_HOOKS: list[Callable[[Workspace, Feed, Run], None]] = []


def storage_failure(what: str, e: BaseException) -> str:
    """A readable reason for a failed write to staging or the destination (disk full, locked)."""
    text = str(e) or type(e).__name__
    low = text.lower()
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = "the disk is full or a file size limit was reached"
    elif "locked" in low or "busy" in low:
        hint = "another process kept the database locked for longer than the busy timeout"
    elif "disk" in low or "full" in low:
        hint = "the disk may be full or a file size limit was reached"
    else:
        hint = "the file could not be written"
    return f"{what} failed: {text} ({hint})"


def _short(obj: Any, limit: int = 200) -> str:
    text = orjson.dumps(obj).decode()
    return text if len(text) <= limit else text[:limit] + "..."


# Registered last: these modules import this one, and register the scheduler's next-run hook and the
# watchers' run hooks in every process that runs feeds (CLI, daemon, app).
from peak_tui import schedule_state, watchers  # noqa: E402,F401
