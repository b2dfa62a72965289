"""Warm children for Test: a script child started ahead of time, `requests` already imported.

A Test spends most of its time before the script's first line: starting Python in the feed's
environment and importing `requests` (~0.2 s of a ~0.3 s Test against a local API). A long-lived
process (the app) keeps one spare child per environment, started in the background, that has done
that and now blocks reading its config pipe. `ScriptProcess` takes the spare instead of spawning,
so the child it talks to is the same kind of process (same bootstrap, pipes, session, limits and
allow-listed environment); only the wait is gone.

What a spare holds before it is used: no secrets (the config, with the connection, arrives only when
a Test takes it), its own empty working directory, and the environment it was started with.

Only Test uses spares; runs always start a fresh child (their working directory is named after the
run for crash recovery, and a run is not interactive). The pool is off unless a long-lived process
enables it: a one-shot CLI command would only start a child to kill it at exit.
"""
from __future__ import annotations

import os
import queue
import select
import shutil
import signal
import subprocess
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from peak_tui.runtime.process import spawn_child

MAX_SPARES = 2  # environments with a spare; each spare is an idle Python (~25 MB)


@dataclass
class Spare:
    """A started child waiting for its config: its process, our ends of its pipes, its directory."""

    python: str
    proc: subprocess.Popen[bytes]
    config_fd: int
    records_fd: int
    workdir: Path

    def alive(self) -> bool:
        """Still waiting (not killed or crashed since it started)."""
        return self.proc.poll() is None

    def ready(self) -> bool:
        """It has imported requests (it wrote its ready line, which the run will skip)."""
        return bool(select.select([self.records_fd], [], [], 0)[0])

    def discard(self) -> None:
        """Kill it and remove its directory."""
        for fd in (self.config_fd, self.records_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_spare(python: str, tmp_root: Path) -> Spare:
    """Start a child in `python`'s environment that imports requests and waits for its config.

    Called on the pool's own long-lived thread: the child's death signal (PR_SET_PDEATHSIG) fires
    when the thread that started it ends, not only when the process does.
    """
    workdir = tmp_root / f"warm-{uuid.uuid4().hex}"
    try:
        proc, cfg_w, rec_r = spawn_child(python, workdir, warm=True)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return Spare(python, proc, cfg_w, rec_r, workdir)


class SparePool:
    """At most one spare per environment, for the `MAX_SPARES` environments used most recently."""

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._spares: dict[str, Spare] = {}  # python -> spare, oldest first
        self._wanted: set[str] = set()
        self._requests: queue.Queue[tuple[str, Path, int] | None] = queue.Queue()
        self._generation = 0  # bumped by close(): a spare asked for before it is not kept
        self._thread: threading.Thread | None = None
        self.started = 0
        """Spares started so far (tests read it)."""

    def enable(self) -> None:
        """Start keeping spares (a long-lived process calls this once)."""
        with self._lock:
            self.enabled = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="peak-spares", daemon=True)
                self._thread.start()

    def prepare(self, python: str, tmp_root: Path) -> None:
        """Have a spare for `python` ready soon (no-op when disabled or when one is ready)."""
        with self._lock:
            if not self.enabled or python in self._wanted:
                return
            spare = self._spares.get(python)
            if spare is not None and spare.alive():
                self._spares[python] = self._spares.pop(python)  # most recently wanted: last
                return
            self._wanted.add(python)
            generation = self._generation
        self._requests.put((python, tmp_root, generation))

    def take(self, python: str) -> Spare | None:
        """The ready spare for `python`, now owned by the caller; None if there is none."""
        with self._lock:
            spare = self._spares.pop(python, None)
        if spare is None:
            return None
        if not spare.alive() or not Path(python).exists():
            spare.discard()
            return None
        return spare

    def ready(self, python: str) -> bool:
        """A spare for `python` is waiting and has finished warming up."""
        with self._lock:
            spare = self._spares.get(python)
        return spare is not None and spare.alive() and spare.ready()

    def close(self) -> None:
        """Stop keeping spares and kill the waiting ones (the app calls this as it exits)."""
        with self._lock:
            self.enabled = False
            self._generation += 1
            self._wanted.clear()
            spares, self._spares = list(self._spares.values()), {}
            if self._thread is not None:
                self._requests.put(None)  # the thread ends after any start in progress
                self._thread = None
        for spare in spares:
            spare.discard()

    def _serve(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                return
            python, tmp_root, generation = item
            with self._lock:
                if generation != self._generation:
                    continue  # asked for before close()
            try:
                spare = start_spare(python, tmp_root)
            except OSError:
                spare = None  # the environment went away: the next Test starts cold
            evicted: list[Spare] = []
            with self._lock:
                if generation == self._generation:
                    self._wanted.discard(python)
                if spare is None:
                    continue
                if not self.enabled or generation != self._generation:
                    evicted.append(spare)
                else:
                    self.started += 1
                    old = self._spares.pop(python, None)
                    if old is not None:
                        evicted.append(old)
                    self._spares[python] = spare
                    while len(self._spares) > MAX_SPARES:
                        evicted.append(self._spares.pop(next(iter(self._spares))))
            for old in evicted:
                old.discard()


POOL = SparePool()
"""The process's pool; `PeakApp` enables it."""
