"""Feed environments: requirement validation, env keys, and real uv / venv+pip builds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from peak_tui.environments import (
    MARKER,
    EnvironmentManager,
    env_key,
    normalize_requirements,
    run_streaming,
    validate_requirement,
)
from peak_tui.errors import EnvironmentBuildError, ValidationError

PROJECT = Path(__file__).resolve().parents[2]
MISSING = "peak-tui-no-such-package-zz9"

BAD_REQUIREMENTS = [
    "",
    "   ",
    "-e .",
    "--index-url https://evil.example/simple",
    "-r requirements.txt",
    "https://example.com/pkg-1.0-py3-none-any.whl",
    "pkg @ https://example.com/pkg-1.0.tar.gz",
    "pkg @ file:vendor/pkg.whl",
    "git+https://github.com/psf/requests",
    "file:///tmp/pkg.whl",
    "./local/project",
    "/abs/path/pkg",
    "pkg-1.0-py3-none-any.whl",
    "pandas>=2.0 && rm -rf /",
    "requests; rm -rf /",
    "$(whoami)",
    "`id`",
    "pandas | cat",
    "pan das",
    "pandas>>2",
    "requests\nflask",
    "foo#egg=bar",
    "x" * 201,
]


def build_dirs(root: Path) -> list[str]:
    """Names of leftover temp build dirs under an env root."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".build-"))


def env_dirs(root: Path) -> list[str]:
    """Names of environment dirs (not lock files, not temp dirs) under an env root."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def import_requests(python: Path) -> str:
    """Import requests with an env's interpreter and return its sys.prefix."""
    code = "import requests, sys; print(sys.prefix)"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_normalize_canonicalises_dedupes_and_sorts() -> None:
    reqs = [" Requests ", "Pandas >= 2.0 , <3", "pandas<3,>=2.0", "Flask[Async]", "Zope.Interface"]
    assert normalize_requirements(reqs) == [
        "flask[async]", "pandas<3,>=2.0", "requests", "zope-interface"]


def test_validate_keeps_markers_and_is_idempotent() -> None:
    canonical = validate_requirement("Numpy==2.* ; python_version >= '3.9'")
    assert canonical == 'numpy==2.*; python_version >= "3.9"'
    assert validate_requirement(canonical) == canonical


@pytest.mark.parametrize("bad", BAD_REQUIREMENTS)
def test_bad_requirements_are_refused_with_the_field_named(bad: str) -> None:
    with pytest.raises(ValidationError) as caught:
        normalize_requirements(["requests", bad])
    assert caught.value.field == "dependencies"
    assert caught.value.value == bad
    assert caught.value.rule
    assert str(caught.value).startswith("dependencies: ")


def test_one_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(ValidationError, match="list"):
        normalize_requirements("pandas")


def test_same_list_in_any_order_or_case_shares_a_key() -> None:
    key = env_key(["pandas>=2", "Requests"])
    assert key == env_key(["requests", "Pandas >= 2", "requests"])
    assert len(key) == 16 and int(key, 16) >= 0
    assert key != env_key(["pandas>=2"])
    assert key != env_key(["pandas>=2", "requests"], python_version="3.99")


def test_build_imports_requests_and_fast_path_reuses_it(tmp_path: Path) -> None:
    manager = EnvironmentManager(tmp_path / "envs")
    lines: list[str] = []
    python = manager.ensure(["IDNA"], log=lines.append)
    env_dir = tmp_path / "envs" / manager.key(["idna"])
    assert python == env_dir / "bin" / "python"
    assert Path(import_requests(python)) == env_dir
    assert json.loads((env_dir / MARKER).read_text())["requirements"] == ["idna"]
    assert build_dirs(tmp_path / "envs") == []
    assert lines, "the installer's output should reach the log"

    marker_mtime = (env_dir / MARKER).stat().st_mtime_ns
    again: list[str] = []
    assert manager.ensure(["idna"], log=again.append) == python
    assert again == []
    assert (env_dir / MARKER).stat().st_mtime_ns == marker_mtime


def test_log_lines_arrive_while_the_build_is_still_running(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    manager = EnvironmentManager(root)
    seen: list[tuple[str, bool, list[str]]] = []
    key = manager.key(["certifi"])
    manager.ensure(["certifi"],
                   log=lambda line: seen.append((line, (root / key).exists(), build_dirs(root))))
    assert seen
    assert all(not finished and temp for _line, finished, temp in seen)
    assert any("requests" in line for line, _f, _t in seen)


def test_output_is_streamed_line_by_line_and_cancel_kills_the_group(tmp_path: Path) -> None:
    cancel = threading.Event()
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        cancel.set()

    script = "echo first; sleep 60 & wait; echo second"
    started = time.monotonic()
    with pytest.raises(EnvironmentBuildError, match="cancelled"):
        run_streaming(["sh", "-c", script], dict(os.environ), tmp_path, log, cancel)
    assert lines == ["first"]
    assert time.monotonic() - started < 30


def test_sigterm_of_the_installer_is_reported(tmp_path: Path) -> None:
    code, tail = run_streaming(["sh", "-c", "echo working; kill -TERM $$"], dict(os.environ),
                               tmp_path, lambda line: None)
    assert code == -15 and tail == ["working"]


def installers_started_by(pid: int) -> list[int]:
    """Pids of `pip install` processes whose parent is `pid` (other children, e.g. servers, kept)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (proc / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid and b"pip\0install" in cmdline:
            found.append(int(proc.name))
    return found


def test_installer_killed_by_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "envs"

    def terminate_installer(line: str) -> None:
        # The first line is uv's "Using Python ..." banner, printed before it resolves anything.
        for pid in installers_started_by(os.getpid()):
            os.kill(pid, signal.SIGTERM)

    with pytest.raises(EnvironmentBuildError, match="stopped by SIGTERM"):
        EnvironmentManager(root).ensure(["idna"], log=terminate_installer)
    assert env_dirs(root) == [] and build_dirs(root) == []


def test_cancel_during_install_leaves_nothing_behind(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    cancel = threading.Event()
    with pytest.raises(EnvironmentBuildError, match="cancelled"):
        EnvironmentManager(root).ensure(["urllib3"], log=lambda line: cancel.set(), cancel=cancel)
    assert env_dirs(root) == [] and build_dirs(root) == []


def test_failed_install_keeps_the_previous_env(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    manager = EnvironmentManager(root)
    good = manager.ensure([])
    with pytest.raises(EnvironmentBuildError) as caught:
        manager.ensure([MISSING])
    assert MISSING in str(caught.value)
    assert "installer exited with code" in str(caught.value)
    assert env_dirs(root) == [good.parent.parent.name]
    assert build_dirs(root) == []
    assert Path(import_requests(good)) == good.parent.parent
    assert manager.ensure([]) == good


def test_two_processes_building_one_key_share_one_env(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    code = ("import sys; from pathlib import Path; from peak_tui.environments import "
            "EnvironmentManager; print(EnvironmentManager(Path(sys.argv[1])).ensure(['charset-normalizer']))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root)], cwd=PROJECT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], results
    paths = {out.strip() for out, _err in results}
    assert len(paths) == 1
    assert env_dirs(root) == [Path(paths.pop()).parent.parent.name]
    assert build_dirs(root) == []


def test_gc_removes_unkept_envs_and_stale_builds(tmp_path: Path) -> None:
    root = tmp_path / "envs"
    manager = EnvironmentManager(root)
    kept = manager.ensure([]).parent.parent.name
    dropped = manager.ensure(["idna"]).parent.parent.name
    stale = root / f".build-{dropped}-1-deadbeef"
    fresh = root / f".build-{kept}-2-cafef00d"
    stale.mkdir()
    fresh.mkdir()
    os.utime(stale, (time.time() - 7200, time.time() - 7200))

    listed = {env["key"]: env for env in manager.list_envs()}
    assert set(listed) == {kept, dropped}
    assert listed[dropped]["requirements"] == ["idna"]
    assert listed[kept]["size_bytes"] > 100_000 and listed[kept]["created"]

    removed = manager.gc({kept})
    assert sorted(removed) == sorted([dropped, stale.name])
    assert env_dirs(root) == [kept] and build_dirs(root) == [fresh.name]
    assert [env["key"] for env in manager.list_envs()] == [kept]


@pytest.mark.slow
def test_venv_and_pip_fallback_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEAK_TUI_NO_UV", "1")
    root = tmp_path / "envs"
    lines: list[str] = []
    python = EnvironmentManager(root).ensure([], log=lines.append)
    env_dir = python.parent.parent
    assert Path(import_requests(python)) == env_dir
    assert json.loads((env_dir / MARKER).read_text())["installer"] == "pip"
    assert any("Successfully installed" in line for line in lines)
    shebangs = [p.read_bytes()[:200] for p in (env_dir / "bin").iterdir()
                if p.is_file() and not p.is_symlink()]
    assert not any(b".build-" in head for head in shebangs)
    assert build_dirs(root) == []
