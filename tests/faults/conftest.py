"""Fixtures of the fault suite: feeds from a script, lowered limits, and a counter feed to break.

The counter feed writes PAGE records per run (or what `hooks/shape` says) (ids continue from its metadata cursor), so after any
fault `support.ids_and_metadata` can prove each record is in the warehouse exactly once. It can be
told to pause before it exits (the file `hooks/hold` exists): it then writes `hooks/holding` with
its pid and waits until `hold` is removed, which lets a test act while a run is in flight.
"""
from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from peak_tui import execution
from peak_tui.models import Connection, Feed
from peak_tui.runtime.process import Limits
from peak_tui.workspace import Workspace

from .support import CounterFeed

PAGE = 200

COUNTER = """\
import json, os, time
from lib import outputStream, metadata
HOOKS = {hooks!r}
shape = json.load(open(HOOKS + "/shape")) if os.path.exists(HOOKS + "/shape") else {{}}
page, pad = shape.get("page", {page}), shape.get("pad", 0)
start = metadata.get("next", 0)
for i in range(start, start + page):
    outputStream.write({{"id": i, "pad": "p" * pad}} if pad else {{"id": i}})
metadata.save({{"next": start + page}})
if os.path.exists(HOOKS + "/hold"):
    open(HOOKS + "/holding", "w").write(str(os.getpid()))
    deadline = time.time() + 60
    while os.path.exists(HOOKS + "/hold") and time.time() < deadline:
        time.sleep(0.02)
print("wrote", page, "records from", start)
"""


def _home_with_shared_envs(home: Path, envs: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "envs").exists():
        (home / "envs").symlink_to(envs, target_is_directory=True)
    return home


def counter_script(hooks: Path, page: int = PAGE) -> str:
    """The counter feed's script; `hooks/shape` ({"page": N, "pad": P}) changes what a run writes."""
    return COUNTER.format(hooks=str(hooks), page=page)


@pytest.fixture
def counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_envs_dir: Path) -> CounterFeed:
    """A fresh workspace with the counter feed (connection `src`, no auth), closed for the CLI."""
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    monkeypatch.delenv("PEAK_TUI_HOME", raising=False)
    home = _home_with_shared_envs(tmp_path / "ws", shared_envs_dir)
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    ws = Workspace.open(home)
    ws.connections.add(Connection(name="src"))
    ws.feeds.save(Feed(name="counter", connection="src", script=counter_script(hooks)))
    ws.close()
    return CounterFeed(home, hooks)


@pytest.fixture
def make_feed(ws: Workspace) -> Callable[..., Feed]:
    """Save a feed on connection `src` (created on first use): `make_feed(name, script, **fields)`."""

    def make(name: str, script: str, connection: str = "src", **fields: Any) -> Feed:
        if not ws.connections.exists(connection):
            ws.connections.add(Connection(name=connection))
        return ws.feeds.save(Feed(name=name, connection=connection,
                                  script=textwrap.dedent(script), **fields))

    return make


@pytest.fixture
def lower_limits(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Change the Limits this process's runs get: `lower_limits(file_size_mb=8, cpu_seconds=1)`."""
    original = execution.limits_for

    def apply(**changes: Any) -> None:
        def limits_for(feed: Feed) -> Limits:
            return dataclasses.replace(original(feed), **changes)

        monkeypatch.setattr(execution, "limits_for", limits_for)

    return apply
