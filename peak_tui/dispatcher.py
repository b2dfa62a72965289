"""The daemon's run desk: fires due feeds and webhook calls into a bounded pool, one run per feed.

A trigger that arrives while its feed is queued or running here is recorded as a skipped run; one
that finds the feed running in another process (run_feed raises Conflict) is recorded the same way.
A schedule slot is marked handled when its run starts (or is skipped), so a daemon killed before
the run started catches the slot up on its next start instead of losing it.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from peak_tui.errors import Conflict, PeakError
from peak_tui.execution import QueuedRun, close_queued, queue_run, run_feed
from peak_tui.schedule_state import (
    ensure_state,
    iso,
    mark_handled,
    parse_iso,
    prune_states,
    refresh_feed,
    store_next_run,
    utcnow,
    workspace_timezone,
)
from peak_tui.scheduler import MISSED_COUNT_CAP, decide, feed_timezone
from peak_tui.store import loads

if TYPE_CHECKING:
    from peak_tui.models import Run
    from peak_tui.workspace import Workspace

log = logging.getLogger("peak_tui.daemon")
STOPPED_BEFORE_START = "the daemon stopped before the run could start"


@dataclass
class Submission:
    """One request to run a feed, and what became of it."""

    feed: str
    trigger: str
    catch_up: bool = False
    payload: Any = None
    slot: datetime | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)  # has a run id, or never will
    done: threading.Event = field(default_factory=threading.Event)
    run_id: int | None = None
    skipped: str | None = None  # why it did not run (run_id is then the skipped run's id)
    error: str | None = None  # it could not start for another reason
    run: Run | None = None
    future: Future[None] | None = None
    queued: QueuedRun | None = None  # its run row, recorded as queued at submission (reserve=True)
    immediate: bool = False  # a worker was free when it was submitted: it starts at once


class Dispatcher:
    """Runs feeds by their triggers in at most ``workers`` threads."""

    def __init__(self, ws: Workspace, *, workers: int = 4,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.ws = ws
        self.clock = clock
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="peak-run")
        self._lock = threading.Lock()
        self._active: dict[str, Submission] = {}
        self._closing = False
        self._warned: set[tuple[str, str]] = set()
        self.next_due: datetime | None = None  # the earliest future slot seen by the last tick

    # ------------------------------------------------------------------------------ submit
    def submit(self, feed: str, trigger: str, *, catch_up: bool = False, payload: Any = None,
               slot: datetime | None = None, reserve: bool = False) -> Submission:
        """Queue a run of ``feed``; a feed already queued or running here is recorded as skipped.

        ``reserve``: record the run as queued at once, so ``run_id`` is known before a worker is
        free (the webhook answers with it instead of waiting for a worker).
        """
        sub = Submission(feed, trigger, catch_up, payload, slot)
        with self._lock:
            busy = self._active.get(feed)
            closing = self._closing
            if not closing and busy is None:
                sub.immediate = len(self._active) < self.workers
                self._active[feed] = sub
                if not reserve:
                    sub.future = self._pool.submit(self._work, sub)
                    return sub
        if not closing and busy is None:
            return self._reserve(sub)
        if closing:
            reason = STOPPED_BEFORE_START
        elif busy is not None and busy.run_id is not None and busy.started.is_set():
            reason = f"feed {feed!r} is already running (run #{busy.run_id})"
        elif busy is not None and busy.run_id is not None:
            reason = f"feed {feed!r} is already queued to run (run #{busy.run_id})"
        else:
            reason = f"feed {feed!r} is already queued to run"
        self._skip(sub, reason)
        return sub

    def active(self) -> list[Submission]:
        """Submissions queued or running now."""
        with self._lock:
            return list(self._active.values())

    def _reserve(self, sub: Submission) -> Submission:
        try:
            sub.queued = queue_run(self.ws, sub.feed, sub.trigger, catch_up=sub.catch_up)
            sub.run_id = sub.queued.run_id
        except PeakError as e:
            sub.error = e.message
        with self._lock:
            if sub.queued is not None and not self._closing:
                sub.future = self._pool.submit(self._work, sub)
                return sub
            self._active.pop(sub.feed, None)
        if sub.queued is not None:  # the daemon began to stop meanwhile
            self._skip(sub, STOPPED_BEFORE_START)
        else:
            sub.started.set()
            sub.done.set()
        return sub

    def _skip(self, sub: Submission, reason: str) -> None:
        sub.skipped = reason
        try:
            if sub.queued is not None:  # its queued run becomes the skipped one
                close_queued(self.ws, sub.queued, "skipped", reason)
            else:
                sub.run_id = self.ws.runs.record_skipped(sub.feed, sub.trigger, reason,
                                                         uuid.uuid4().hex)
            if sub.slot is not None:
                mark_handled(self.ws, sub.feed, sub.slot, now=self.clock())
        except PeakError as e:
            sub.error = e.message
        log.info("skipped %s (%s): %s", sub.feed, sub.trigger, reason)
        sub.started.set()
        sub.done.set()

    def _work(self, sub: Submission) -> None:
        def on_started(run_id: int) -> None:
            sub.run_id = run_id
            if sub.slot is not None:
                mark_handled(self.ws, sub.feed, sub.slot, run_id=run_id, now=self.clock())
            sub.started.set()
            log.info("run #%d of %s started (%s%s)", run_id, sub.feed, sub.trigger,
                     ", catch-up" if sub.catch_up else "")

        skipped: str | None = None
        try:
            sub.run = run_feed(self.ws, sub.feed, trigger=sub.trigger, catch_up=sub.catch_up,
                               payload=sub.payload, cancel=sub.cancel, on_started=on_started,
                               queued=sub.queued)
            log.info("run #%d of %s %s: %d records%s", sub.run.id, sub.feed, sub.run.status,
                     sub.run.records, f" ({sub.run.error})" if sub.run.error else "")
        except Conflict as e:
            skipped = e.message
        except PeakError as e:
            sub.error = e.message
            log.warning("%s (%s) could not start: %s", sub.feed, sub.trigger, e.message)
        except Exception as e:  # the daemon outlives any one run's failure
            sub.error = f"{type(e).__name__}: {e}"
            log.exception("%s (%s) failed inside the daemon", sub.feed, sub.trigger)
        finally:
            with self._lock:
                if self._active.get(sub.feed) is sub:
                    del self._active[sub.feed]
        if skipped is not None:
            self._skip(sub, skipped)
            return
        if sub.queued is not None and sub.run is None:  # it never started: close its queued row
            try:
                close_queued(self.ws, sub.queued, "failed", f"the run could not start: {sub.error}")
            except Exception:
                log.exception("could not close the queued run #%s of %s", sub.run_id, sub.feed)
        try:
            if sub.slot is not None and sub.run_id is None:  # never started: do not retry forever
                mark_handled(self.ws, sub.feed, sub.slot, now=self.clock())
            refresh_feed(self.ws, sub.feed, self.clock())
        except Exception:
            log.exception("could not update the schedule state of %s", sub.feed)
        sub.started.set()
        sub.done.set()

    # -------------------------------------------------------------------------------- tick
    def tick(self, now: datetime | None = None) -> list[Submission]:
        """One scheduler pass: fire every feed with a due slot; returns what was submitted."""
        now = now or self.clock()
        ws_tz = workspace_timezone(self.ws)
        fired: list[Submission] = []
        next_due: datetime | None = None
        prune_states(self.ws)
        rows = self.ws.store.query(
            "SELECT name, config, paused, updated_at, next_run_at FROM feeds ORDER BY name")
        for r in rows:
            name = r["name"]
            trigger = loads(r["config"], {}).get("trigger") or {"type": "manual"}
            if trigger.get("type") not in ("schedule", "once"):
                store_next_run(self.ws, name, None, r["next_run_at"])
                continue
            try:
                tz = feed_timezone(trigger, ws_tz)
                state = ensure_state(self.ws, name, trigger, tz, anchor=parse_iso(r["updated_at"]) or now)
                d = decide(trigger, state, now, tz)
            except (PeakError, ValueError) as e:
                if (name, str(e)) not in self._warned:
                    self._warned.add((name, str(e)))
                    log.warning("feed %s: its trigger cannot be scheduled: %s", name, e)
                continue
            paused = bool(r["paused"])
            if not paused and d.next_at is not None and (next_due is None or d.next_at < next_due):
                next_due = d.next_at
            if not d.due or paused:
                if d.due and d.slot is not None:  # a paused feed lets its slots pass
                    mark_handled(self.ws, name, d.slot)
                    log.info("%s is paused: slot %s passed without a run", name, iso(d.slot))
                store_next_run(self.ws, name, None if paused else d.next_at, r["next_run_at"])
                continue
            with self._lock:
                mine = self._active.get(name)
            if mine is not None and mine.slot == d.slot:
                continue  # already queued for this slot
            count = f"{d.missed}{'+' if d.missed >= MISSED_COUNT_CAP else ''}"
            more = (f", catch-up of {count} missed slot{'' if d.missed == 1 else 's'} since "
                    f"{iso(d.first_missed)}") if d.catch_up else ""
            log.info("%s due at %s (%s%s)", name, iso(d.slot), d.run_trigger, more)
            fired.append(self.submit(name, d.run_trigger, catch_up=d.catch_up, slot=d.slot))
        self.next_due = next_due
        return fired

    # ---------------------------------------------------------------------------- shutdown
    def shutdown(self, grace: float, force: threading.Event | None = None,
                 cancel_wait: float = 60.0) -> None:
        """Stop: drop queued runs, let running ones finish within ``grace`` s, then cancel them."""
        with self._lock:
            self._closing = True
            subs = list(self._active.values())
        running = []
        for sub in subs:
            if sub.future is not None and sub.future.cancel():  # queued, never started
                with self._lock:
                    self._active.pop(sub.feed, None)
                if sub.slot is None:  # a schedule slot stays unhandled: the next start catches it up
                    self._skip(sub, STOPPED_BEFORE_START)
                else:
                    sub.started.set()
                    sub.done.set()
            else:
                running.append(sub)
        force = force or threading.Event()
        deadline = time.monotonic() + grace
        if running:
            log.info("waiting up to %.0f s for %d running feed(s) to finish", grace, len(running))
        while any(not s.done.is_set() for s in running) and time.monotonic() < deadline:
            if force.wait(0.1):
                break
        why = "a second stop signal" if force.is_set() else "grace period over"
        for sub in running:
            if not sub.done.is_set():
                log.warning("cancelling run #%s of %s (%s)", sub.run_id, sub.feed, why)
                sub.cancel.set()
        end = time.monotonic() + cancel_wait
        for sub in running:
            sub.done.wait(max(0.0, end - time.monotonic()))
        self._pool.shutdown(wait=False, cancel_futures=True)
