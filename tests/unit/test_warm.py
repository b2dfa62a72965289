"""Warm spare children for Test (runtime/warm.py), and how the child bootstrap exits."""
from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peak_tui.demo_api import DemoAPI
from peak_tui.execution import TestResult, prewarm, test_feed
from peak_tui.models import Connection, Feed
from peak_tui.runtime.warm import MAX_SPARES, POOL, Spare, SparePool
from peak_tui.workspace import Workspace

WARM_LINE = "a warm interpreter was waiting"
DEADLINE = 10.0  # seconds a spare may take to start on a loaded machine (it usually takes ~0.2 s)

FETCH = """\
import requests
from lib import outputStream, metadata

n = metadata.get("n", 0)
rows = requests.get("%s/api/orders", params={"per_page": 3}, timeout=10).json()["data"]
for o in rows:
    outputStream.write({"id": o["id"], "status": o["status"], "n": n})
metadata.save({"n": n + 1, "last": rows[-1]["updated_at"]})
"""


def save(ws: Workspace, script: str, name: str = "f", connection: str = "demo", **kw: Any) -> Feed:
    if not ws.connections.exists(connection):
        ws.connections.add(Connection(name=connection))
    return ws.feeds.save(Feed(name=name, connection=connection, script=script, **kw))


def wait_for(condition: Callable[[], bool], timeout: float = DEADLINE) -> bool:
    """Poll `condition` until it holds or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        time.sleep(0.01)
    return True


def settle(pool: SparePool) -> None:
    """Wait until no spare is being started (one asked for before a close lands, or is dropped)."""
    assert wait_for(lambda: not pool._wanted and pool._requests.empty()), "a spare start hung"


def python_of(ws: Workspace, feed: Feed) -> str:
    return str(ws.envs.python_path(ws.envs.key(feed.dependencies)))


def warm_dirs(ws: Workspace) -> list[Path]:
    return sorted(ws.tmp_dir.glob("warm-*")) if ws.tmp_dir.is_dir() else []


def spare_ready(pool: SparePool, python: str) -> Callable[[], bool]:
    return lambda: python in pool._spares


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def same_output(a: TestResult, b: TestResult) -> None:
    assert (a.records, a.total, a.metadata_after) == (b.records, b.total, b.metadata_after)


@pytest.fixture
def pool() -> Iterator[SparePool]:
    """The process's pool, enabled for one test and closed (no spares, disabled) after it."""
    assert not POOL.enabled, "an earlier test left the pool enabled"
    settle(POOL)
    POOL.enable()
    try:
        yield POOL
    finally:
        POOL.close()
        settle(POOL)  # a spare still starting is dropped, not kept for the next test
        POOL.close()


@pytest.fixture
def own_pool() -> Iterator[SparePool]:
    """A separate, enabled SparePool, closed after the test."""
    p = SparePool()
    p.enable()
    try:
        yield p
    finally:
        p.close()
        settle(p)
        p.close()


def test_disabled_by_default_nothing_is_kept_warm(ws: Workspace, demo_api: DemoAPI) -> None:
    """With the pool off (one-shot commands), Tests start cold and no spare is ever started."""
    assert not POOL.enabled
    started = POOL.started
    feed = save(ws, FETCH % demo_api.url)
    one, two = test_feed(ws, feed), test_feed(ws, feed)
    assert one.ok and two.ok, one.log + two.log
    assert WARM_LINE not in one.log and WARM_LINE not in two.log
    same_output(one, two)
    assert ws.envs.is_ready(ws.envs.key(feed.dependencies))
    assert prewarm(ws, feed.dependencies) is False
    assert POOL._spares == {} and not POOL._wanted and POOL.started == started
    assert warm_dirs(ws) == []


def test_second_test_is_warm_and_gives_the_same_result(ws: Workspace, demo_api: DemoAPI,
                                                        pool: SparePool) -> None:
    """The first Test starts cold and leaves a spare; the second uses it and gets the same output."""
    feed = save(ws, FETCH % demo_api.url)
    cold = test_feed(ws, feed)
    assert cold.ok, cold.log
    assert WARM_LINE not in cold.log
    python = python_of(ws, feed)
    assert wait_for(spare_ready(pool, python)), "no spare was started after the first Test"
    spare = pool._spares[python]
    assert spare.alive() and spare.workdir.parent == ws.tmp_dir and spare.workdir.is_dir()
    assert warm_dirs(ws) == [spare.workdir]
    warm = test_feed(ws, feed)
    assert warm.ok, warm.log
    assert WARM_LINE in warm.log
    assert warm.metadata_before == cold.metadata_before == {}
    same_output(cold, warm)
    assert cold.total == 3 and cold.metadata_after is not None and cold.metadata_after["n"] == 1
    assert not spare.workdir.exists() and not alive(spare.proc.pid)  # used, then cleaned up
    assert ws.feeds.metadata("f") == {}  # Test commits nothing, warm or cold


def test_prewarm_asks_for_a_spare_only_for_built_environments(ws: Workspace, demo_api: DemoAPI,
                                                               pool: SparePool) -> None:
    """prewarm readies a spare for a built environment; for an unbuilt one it does nothing."""
    feed = save(ws, FETCH % demo_api.url)
    assert test_feed(ws, feed).ok  # the environment is built
    pool.close()
    settle(pool)
    pool.close()
    pool.enable()
    python = python_of(ws, feed)
    assert pool._spares == {}
    assert prewarm(ws, feed.dependencies) is True
    assert wait_for(spare_ready(pool, python)), "prewarm did not start a spare"
    result = test_feed(ws, feed)
    assert result.ok and WARM_LINE in result.log, result.log

    unbuilt = ["six==1.16.0"]
    key = ws.envs.key(unbuilt)
    assert not ws.envs.is_ready(key), "precondition: this environment is not built"
    settle(pool)  # the replacement for the spare the Test used
    started = pool.started
    assert prewarm(ws, unbuilt) is False
    settle(pool)
    assert not any(key in p.name for p in ws.envs.root.iterdir()), "prewarm built an environment"
    assert str(ws.envs.python_path(key)) not in pool._spares and pool.started == started


def test_a_spare_holds_no_secrets(ws: Workspace, demo_api: DemoAPI, pool: SparePool) -> None:
    """A waiting spare has neither the connection's password in its environment nor in its argv."""
    password = f"pw-{secrets.token_hex(16)}"
    ws.connections.add(Connection(name="basic", auth_type="basic", username="u", password=password))
    script = ("from lib import outputStream, connection\n"
              f"outputStream.write({{'has_password': connection.password == {password!r}}})\n")
    feed = save(ws, script, connection="basic")
    first = test_feed(ws, feed)
    assert first.ok and first.records == [{"has_password": True}], first.log
    python = python_of(ws, feed)
    assert wait_for(spare_ready(pool, python))
    spare = pool._spares[python]
    pid = spare.proc.pid
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert cmdline.split(b"\0")[-3:] == [str(os.getpid()).encode(), b"warm", b""]
    assert b"TMPDIR=" + str(spare.workdir).encode() in environ.split(b"\0")
    assert password.encode() not in environ and password.encode() not in cmdline
    assert spare.proc.poll() is None and spare.alive()  # still blocked reading its config
    second = test_feed(ws, feed)  # and it does get the connection once a Test takes it
    assert second.ok and WARM_LINE in second.log and second.records == [{"has_password": True}]
    assert password not in second.log


def test_a_dead_spare_is_not_used(ws: Workspace, demo_api: DemoAPI, pool: SparePool) -> None:
    """A spare killed while it waits is dropped: the next Test starts cold and passes."""
    feed = save(ws, FETCH % demo_api.url)
    cold = test_feed(ws, feed)
    assert cold.ok, cold.log
    python = python_of(ws, feed)
    assert wait_for(spare_ready(pool, python))
    spare = pool._spares[python]
    os.killpg(spare.proc.pid, signal.SIGKILL)
    spare.proc.wait(timeout=DEADLINE)
    assert not spare.alive()
    again = test_feed(ws, feed)
    assert again.ok, again.log
    assert WARM_LINE not in again.log
    same_output(cold, again)
    assert not spare.workdir.exists()  # the dead spare was discarded, its directory removed
    assert wait_for(lambda: python in pool._spares and pool._spares[python] is not spare)


def test_child_exit_keeps_files_threads_and_atexit(ws: Workspace, tmp_path: Path) -> None:
    """Skipping the interpreter's teardown keeps what a normal exit does, in its order: threads
    (which still see the script's globals) are joined, atexit runs, open files are flushed - one
    left in a reference cycle too."""
    out = tmp_path / "left-open.txt"
    cycle = tmp_path / "in-a-cycle.txt"
    text = "line of text that is buffered\n" * 200
    script = (
        "import atexit, threading, time\n"
        "from lib import outputStream\n"
        "MSG = 'from a global'\n"
        f"f = open({str(out)!r}, 'w')\n"
        f"f.write({text!r})\n"
        "class Holder: pass\n"
        f"h = Holder(); h.self = h; h.f = open({str(cycle)!r}, 'w'); h.f.write('x' * 100)\n"
        "def bye():\n"
        "    print('bye from atexit;', MSG)\n"
        "atexit.register(bye)\n"
        "def work():\n"
        "    time.sleep(0.2)\n"
        "    print('thread done;', MSG)\n"
        "    f.write('late')\n"
        "threading.Thread(target=work).start()\n"
        "outputStream.write({'ok': 1})\n"
    )
    result = test_feed(ws, save(ws, script))
    assert result.ok and result.total == 1, result.log
    assert out.read_text() == text + "late"
    assert cycle.read_text() == "x" * 100
    assert "thread done; from a global\n" in result.log
    assert "bye from atexit; from a global\n" in result.log
    assert result.log.index("thread done") < result.log.index("bye from atexit")


def test_pool_starts_one_spare_per_environment_and_evicts(ws: Workspace, demo_api: DemoAPI,
                                                          own_pool: SparePool) -> None:
    """One spare per python, taken once; the least recently wanted goes past MAX_SPARES; close
    kills the rest and removes their directories."""
    feed = save(ws, FETCH % demo_api.url)
    assert test_feed(ws, feed).ok  # the environment is built
    python = python_of(ws, feed)
    tmp = ws.tmp_dir
    own_pool.prepare(python, tmp)
    own_pool.prepare(python, tmp)
    assert wait_for(spare_ready(own_pool, python))
    settle(own_pool)
    assert own_pool.started == 1
    assert len(warm_dirs(ws)) == 1
    spare = own_pool.take(python)
    assert isinstance(spare, Spare) and spare.proc.poll() is None
    assert own_pool.take(python) is None
    spare.discard()
    assert spare.proc.poll() is not None and not spare.workdir.exists()
    assert warm_dirs(ws) == []

    # the same interpreter under other names stands in for other environments (building one is slow)
    bindir = Path(python).parent
    names = [python, str(bindir / "python3"), str(bindir / ".." / "bin" / "python")]
    assert MAX_SPARES == 2 and all(Path(n).exists() for n in names)
    a, b, c = names
    for name in (a, b):
        own_pool.prepare(name, tmp)
        assert wait_for(spare_ready(own_pool, name))
    old_b = own_pool._spares[b]
    own_pool.prepare(a, tmp)  # a is ready: no new spare, but it is now the most recently wanted
    own_pool.prepare(c, tmp)
    assert wait_for(spare_ready(own_pool, c))
    settle(own_pool)
    assert list(own_pool._spares) == [a, c] and own_pool.started == 4
    assert wait_for(lambda: not alive(old_b.proc.pid) and not old_b.workdir.exists())
    assert own_pool.take(b) is None
    kept = list(own_pool._spares.values())
    assert len(warm_dirs(ws)) == 2
    own_pool.close()
    assert not own_pool.enabled and own_pool._spares == {}
    assert warm_dirs(ws) == []
    assert not any(alive(s.proc.pid) for s in kept)
    own_pool.prepare(python, tmp)  # closed: asks for nothing
    assert own_pool._requests.empty() and own_pool.started == 4
