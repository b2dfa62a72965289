"""Shared fixtures: a fresh workspace per test, the bundled demo API, and the CLI as a subprocess.

Feed environments are the slow part of a first run (a uv venv + requests, ~0.5-2.5 s), so every
`ws` of a test session links its `envs/` directory to one shared directory: each workspace keeps its
own database, keys and warehouse, and the environment for a dependency list is built once. A test
about building environments should open its own `Workspace` without this fixture.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peak_tui.demo_api import DemoAPI
from peak_tui.workspace import Workspace

PROJECT = Path(__file__).resolve().parents[1]


@dataclass
class CliResult:
    """What one `peak-tui` subprocess did."""

    code: int
    out: str
    err: str
    args: tuple[str, ...]

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"peak-tui {' '.join(self.args)} -> {self.code}\nstdout: {self.out}\nstderr: {self.err}"


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI subprocess gets: ours, without a keyring, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k != "PEAK_TUI_HOME"}
    env["PEAK_TUI_KEYRING"] = "0"
    # this machine sets PYTHONDONTWRITEBYTECODE=1 and the venv has no .pyc: cache bytecode for the
    # many CLI processes outside the source tree
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "peak-tui-test-pycache")
    env.update(extra or {})
    return env


def cli_command(home: Path | str, *args: str) -> list[str]:
    """The argv that runs the real CLI against a workspace."""
    return [sys.executable, "-m", "peak_tui", "--home", str(home), *args]


def run_cli(home: Path | str, *args: str, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> CliResult:
    """Run `python -m peak_tui --home HOME ARGS...` as a real process and wait for it."""
    proc = subprocess.run(
        cli_command(home, *args), input=input, capture_output=True, text=True, env=cli_env(env),
        timeout=timeout, cwd=str(Path(home).parent),
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr, args)


def run_cli_batch(home: Path | str, calls: list[tuple[str, ...]],
                  env: dict[str, str] | None = None, timeout: float = 120) -> list[CliResult]:
    """Run independent (read-only) CLI commands at the same time; results in call order."""
    procs = [subprocess.Popen(cli_command(home, *args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli_env(env), cwd=str(Path(home).parent))
             for args in calls]
    results = []
    for args, proc in zip(calls, procs, strict=True):
        out, err = proc.communicate(timeout=timeout)
        results.append(CliResult(proc.returncode, out, err, args))
    return results


@pytest.fixture(scope="session")
def shared_envs_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One feed-environment directory for the whole run (all xdist workers share it, safely locked)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if worker_id != "master" else base) / "shared-envs"
    root.mkdir(parents=True, exist_ok=True)
    return root


def open_workspace(home: Path, envs: Path | None) -> Workspace:
    """A workspace at `home` whose feed environments live in `envs` (a symlink), when given."""
    home.mkdir(parents=True, exist_ok=True)
    if envs is not None and not (home / "envs").exists():
        (home / "envs").symlink_to(envs, target_is_directory=True)
    return Workspace.open(home)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_envs_dir: Path) -> Iterator[Workspace]:
    """A fresh workspace at tmp_path/ws, with the OS keyring disabled."""
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    monkeypatch.delenv("PEAK_TUI_HOME", raising=False)
    workspace = open_workspace(tmp_path / "ws", shared_envs_dir)
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def demo_api() -> Iterator[DemoAPI]:
    """The bundled demo REST API on 127.0.0.1 (a free port), for the whole session."""
    with DemoAPI() as api:
        yield api


@pytest.fixture
def demo_ws(ws: Workspace, demo_api: DemoAPI) -> Workspace:
    """`ws` with the demo connections (demo, demobasic, democustom) and feeds installed."""
    from peak_tui.demo_setup import install_demo

    install_demo(ws, demo_api.url)
    return ws


@pytest.fixture
def cli(ws: Workspace) -> Callable[..., CliResult]:
    """Run the real CLI against `ws`: `cli("feed", "list", "--json", input=None, env=None)`.

    `cli.batch([args, ...])` runs independent commands at once and returns their results in order;
    `cli.popen(*args)` starts one and returns its `subprocess.Popen` (text pipes).
    """

    def call(*args: str, input: str | None = None, env: dict[str, str] | None = None,
             timeout: float = 120) -> CliResult:
        return run_cli(ws.home, *args, input=input, env=env, timeout=timeout)

    call.batch = lambda calls, env=None: run_cli_batch(ws.home, calls, env)  # type: ignore[attr-defined]
    call.popen = lambda *args, env=None: subprocess.Popen(  # type: ignore[attr-defined]
        cli_command(ws.home, *args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=cli_env(env), cwd=str(ws.home.parent))
    return call
