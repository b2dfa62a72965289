"""Interrupted runs: SIGTERM and kill -9 during the dependency install, the custom-auth exchange and the script.

A slow step is made real with a local HTTP server that holds requests: uv's package index (with an
empty uv cache, so the install must go online) or the connection's authorization URL. After each
fault: the run is recorded (by the runner, or settled by recovery), nothing was loaded, the metadata
is unchanged, no process of the run survives, and the next run succeeds.
"""
from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from peak_tui.models import Connection, Feed
from peak_tui.recovery import DIED
from peak_tui.workspace import Workspace

from .conftest import counter_script
from .support import (
    CounterFeed,
    HoldingServer,
    alive,
    ids_and_metadata,
    last_run,
    run_cli,
    spawn_cli,
    wait_for,
)

DEPS = ["urllib3"]  # in every warm uv cache (requests needs it), yet a different environment


def _with_env_marker(marker: str) -> list[int]:
    """Processes whose environment contains `marker` (how we find a uv a runner started)."""
    found = []
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if needle in Path(f"/proc/{entry}/environ").read_bytes() and alive(int(entry)):
                    found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture
def dep_counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CounterFeed:
    """The counter feed with a dependency, in a workspace with its own envs/ directory."""
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    home, hooks = tmp_path / "own", tmp_path / "hooks"
    hooks.mkdir()
    ws = Workspace.open(home)
    ws.connections.add(Connection(name="src"))
    ws.feeds.save(Feed(name="counter", connection="src", script=counter_script(hooks),
                       dependencies=DEPS))
    ws.close()
    return CounterFeed(home, hooks)


@pytest.fixture
def slow_index(tmp_path: Path) -> Iterator[tuple[HoldingServer, dict[str, str]]]:
    """A package index that never answers in time, and the runner env that makes uv use it."""
    server = HoldingServer(lambda method, path, body: (404, {}))
    env = {"UV_CACHE_DIR": str(tmp_path / "empty-uv-cache"), "UV_INDEX_URL": server.url + "/simple"}
    yield server, env
    server.close()


def _env_state(counter: CounterFeed) -> tuple[list[str], bool, bool]:
    ws = Workspace(counter.home, recover=False)
    try:
        key = ws.envs.key(DEPS)
        builds = sorted(p.name for p in (counter.home / "envs").iterdir() if p.name.startswith(".build-"))
        return builds, (counter.home / "envs" / key).exists(), ws.envs.is_ready(key)
    finally:
        ws.close()


def _next_run_succeeds(counter: CounterFeed, expect_next: int = 200) -> None:
    r = run_cli(counter.home, "feed", "run", counter.feed, "-q")
    assert r.returncode == 0, r.stdout + r.stderr
    assert ids_and_metadata(counter.home, counter.feed)[1] == {"next": expect_next}


def test_sigterm_during_dependency_install_cancels_the_run(
        dep_counter: CounterFeed, slow_index: tuple[HoldingServer, dict[str, str]]) -> None:
    server, env = slow_index
    proc = spawn_cli(dep_counter.home, "feed", "run", "counter", "-q", env=env)
    assert server.arrived.wait(60), "uv never asked the package index"
    assert _with_env_marker(server.url), "no installer is running"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert "cancelled" in out
    wait_for(lambda: not _with_env_marker(server.url), "the installer to be gone", 10)
    run = last_run(dep_counter.home, "counter")
    assert run.status == "cancelled" and "cancelled" in (run.error or "")
    assert "recovered" not in run.log and DIED not in run.log  # the runner recorded it itself
    builds, key_dir, ready = _env_state(dep_counter)
    assert builds == [], f"partial environments left behind: {builds}"
    assert not key_dir or ready
    assert ids_and_metadata(dep_counter.home, "counter") == ([], {})
    _next_run_succeeds(dep_counter)
    assert _env_state(dep_counter)[1:] == (True, True)


def test_kill_9_during_dependency_install_is_settled(
        dep_counter: CounterFeed, slow_index: tuple[HoldingServer, dict[str, str]],
        record_property: Callable[[str, Any], None]) -> None:
    server, env = slow_index
    proc = spawn_cli(dep_counter.home, "feed", "run", "counter", "-q", env=env)
    assert server.arrived.wait(60), "uv never asked the package index"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    # uv runs in its own session and outlives a SIGKILLed runner until the index answers
    server.release()
    wait_for(lambda: not _with_env_marker(server.url), "the orphaned installer to end", 30)
    assert ids_and_metadata(dep_counter.home, "counter") == ([], {})  # settles the dead run
    run = last_run(dep_counter.home, "counter")
    assert (run.status, run.error) == ("failed", DIED)
    builds, key_dir, ready = _env_state(dep_counter)
    assert not key_dir or ready, "a half-built environment took the environment's place"
    # the killed runner's .build-* dir stays until EnvironmentManager.gc() finds it stale (1 h)
    record_property("leftover_builds", builds)
    _next_run_succeeds(dep_counter)
    assert _env_state(dep_counter)[1:] == (True, True)


def test_kill_9_during_the_custom_auth_exchange(counter: CounterFeed) -> None:
    token = "tok-" + secrets.token_hex(12)
    server = HoldingServer(lambda method, path, body: (200, {"access_token": token}))
    try:
        ws = Workspace.open(counter.home)
        ws.connections.add(Connection(name="slowauth", auth_type="custom",
                                      auth_url=server.url + "/token",
                                      body={"client_secret": "cs-" + secrets.token_hex(8)}))
        ws.feeds.save(Feed(name="authed", connection="slowauth", script=counter_script(counter.hooks)))
        ws.close()
        authed = CounterFeed(counter.home, counter.hooks, "authed")
        proc = spawn_cli(counter.home, "feed", "run", "authed", "-q")
        assert server.arrived.wait(60), "the runner never called the authorization URL"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        assert ids_and_metadata(counter.home, "authed") == ([], {})
        run = last_run(counter.home, "authed")
        assert (run.status, run.error) == ("failed", DIED)
        assert server.paths == ["/token"]  # it died inside the one exchange, before any script
        server.release()
        _next_run_succeeds(authed)
        assert server.paths == ["/token", "/token"]
    finally:
        server.close()


@pytest.mark.parametrize("how", ["kill-9", "SIGTERM", "SIGINT"])
def test_runner_interrupted_while_the_script_runs(counter: CounterFeed, how: str) -> None:
    (counter.hooks / "hold").write_text("")
    proc = spawn_cli(counter.home, "feed", "run", counter.feed, "-q")
    pid = int(wait_for(lambda: _read(counter.hooks / "holding"), "the script to hold", 60))
    if how == "kill-9":
        os.killpg(proc.pid, signal.SIGKILL)  # the runner's group; the script is in its own session
    else:
        proc.send_signal(getattr(signal, how))
    out, err = proc.communicate(timeout=30)
    wait_for(lambda: not alive(pid), f"the script to end after {how} of its runner", 10)
    (counter.hooks / "hold").unlink()
    assert ids_and_metadata(counter.home, counter.feed) == ([], {})
    run = last_run(counter.home, counter.feed)
    if how == "kill-9":
        assert proc.returncode == -signal.SIGKILL
        assert (run.status, run.error) == ("failed", DIED)
    else:
        assert proc.returncode == 128 + getattr(signal, how), out + err
        assert (run.status, run.error) == ("cancelled", "cancelled")
        assert "run cancelled: cancelled; nothing was loaded" in run.log
    _next_run_succeeds(counter)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        return ""
