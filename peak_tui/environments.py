"""Per-feed Python environments: validate dependency lists and share one venv per distinct list."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from peak_tui.errors import EnvironmentBuildError, ValidationError

BASE_PACKAGES: tuple[str, ...] = ("requests",)
# Part of every env key: bump when what the runner needs inside an environment changes.
RUNTIME_ABI = "1"
MARKER = ".peak-ready"
STALE_BUILD_SECONDS = 3600

LogFn = Callable[[str], None]

_FIELD = "dependencies"
_SYNTAX_RULE = "must be a pip requirement like 'pandas>=2.0'"
_SHELL_CHARS = frozenset("`$|&\\#{}")
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".egg")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+", "file:")
_KEY_RE = re.compile(r"[0-9a-f]{16}")
_ERROR_LINE = re.compile(r"^(error|fatal)\b|^×", re.IGNORECASE)


INSTALLER_ENV_ALLOW = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TERM",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NETRC",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
})


def _ignore(line: str) -> None:
    """Default log sink: drop the line."""


def validate_requirement(requirement: str) -> str:
    """Check one pip requirement string and return its canonical form, or raise ValidationError."""
    if not isinstance(requirement, str):
        raise ValidationError(_FIELD, "must be text", requirement)
    text = requirement.strip()
    if not text:
        raise ValidationError(_FIELD, "must not be empty", requirement)
    if len(text) > 200:
        raise ValidationError(_FIELD, "must be at most 200 characters", requirement)
    if text.startswith("-"):
        raise ValidationError(
            _FIELD, "must be a package requirement, not a pip option such as -e or --index-url",
            requirement)
    if any(ch in _SHELL_CHARS or not ch.isprintable() for ch in text):
        raise ValidationError(
            _FIELD, "must not contain shell characters (` $ | & \\ # { }) or control characters",
            requirement)
    if "://" in text or text.lower().startswith(_VCS_PREFIXES) or text.startswith((".", "/", "~")):
        raise ValidationError(
            _FIELD, "must name a package on the index, not a URL, a path or 'name @ url'",
            requirement)
    try:
        req = Requirement(text)
    except InvalidRequirement:
        raise ValidationError(_FIELD, _SYNTAX_RULE, requirement) from None
    if req.url:
        raise ValidationError(
            _FIELD, "must name a package on the index; 'name @ url' references are not allowed",
            requirement)
    if req.name.lower().endswith(_ARCHIVE_SUFFIXES):
        raise ValidationError(
            _FIELD, "must name a package, not a file such as 'pkg.whl'", requirement)
    extras = ",".join(sorted(canonicalize_name(extra) for extra in req.extras))
    return (f"{canonicalize_name(req.name)}{f'[{extras}]' if extras else ''}{req.specifier}"
            f"{f'; {req.marker}' if req.marker else ''}")


def normalize_requirements(requirements: Iterable[str]) -> list[str]:
    """Validate a dependency list; return it canonicalised, de-duplicated and sorted."""
    if isinstance(requirements, str):
        raise ValidationError(_FIELD, "must be a list of requirements, not one string",
                              requirements)
    return sorted({validate_requirement(req) for req in requirements})


def env_key(requirements: Iterable[str], python_version: str | None = None) -> str:
    """Short stable hash naming the env for a dependency list on a Python version (major.minor)."""
    version = python_version or f"{sys.version_info[0]}.{sys.version_info[1]}"
    payload = json.dumps({"abi": RUNTIME_ABI, "base": BASE_PACKAGES, "python": version,
                          "requirements": normalize_requirements(requirements)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def find_uv() -> str | None:
    """Path of the uv binary (the bundled one first), or None when absent or PEAK_TUI_NO_UV=1."""
    if os.environ.get("PEAK_TUI_NO_UV") == "1":
        return None
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


class EnvironmentManager:
    """Builds, reuses and garbage-collects feed environments under `root` (<workspace>/envs)."""

    def __init__(self, root: Path, cache_dir: Path | None = None, python: str | None = None
                 ) -> None:
        self.root = Path(root)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.python = python or sys.executable
        self._python_version = None if python else f"{sys.version_info[0]}.{sys.version_info[1]}"

    @property
    def python_version(self) -> str:
        """major.minor of the interpreter environments are built from (asked once, then kept)."""
        if self._python_version is None:
            code = "import sys; print('%d.%d' % sys.version_info[:2])"
            try:
                out = subprocess.run([self.python, "-c", code], capture_output=True, text=True,
                                     timeout=60, check=True)
            except (OSError, subprocess.SubprocessError) as exc:
                raise EnvironmentBuildError(
                    f"Python interpreter {self.python!r} could not be run: {exc}") from None
            self._python_version = out.stdout.strip()
        return self._python_version

    def key(self, requirements: Iterable[str]) -> str:
        """The env key for a dependency list with this manager's interpreter."""
        return env_key(requirements, self.python_version)

    def python_path(self, key: str) -> Path:
        """Where the interpreter of the env with this key lives."""
        return self.root / key / "bin" / "python"

    def is_ready(self, key: str) -> bool:
        """True when the env is complete and its base interpreter still exists (two stats)."""
        return (self.root / key / MARKER).exists() and self.python_path(key).exists()

    def ensure(self, requirements: Iterable[str], log: LogFn = _ignore,
               cancel: threading.Event | None = None) -> Path:
        """Return the python of the env for `requirements`, building it first if needed."""
        reqs = normalize_requirements(requirements)
        key = env_key(reqs, self.python_version)
        if self.is_ready(key):
            return self.python_path(key)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._locked(key, log, cancel):
            if not self.is_ready(key):  # another process may have built it while we waited
                self._discard(self.root / key)  # a dir without a marker is not an environment
                self._build(key, reqs, log, cancel)
        return self.python_path(key)

    def gc(self, keep_keys: set[str]) -> list[str]:
        """Remove envs not in keep_keys and stale .build-* dirs; return the removed names."""
        if not self.root.is_dir():
            return []
        removed: list[str] = []
        cutoff = time.time() - STALE_BUILD_SECONDS
        for entry in list(self.root.iterdir()):
            if not entry.name.startswith(".build-") or entry.lstat().st_mtime > cutoff:
                continue
            key = entry.name[len(".build-"):][:16]
            with self._try_lock(key) if _KEY_RE.fullmatch(key) else _held() as fd:
                if fd is not None:  # a live builder holds its key's lock for the whole build
                    shutil.rmtree(entry, ignore_errors=True)
                    removed.append(entry.name)
        names = [entry.name.removesuffix(".lock") for entry in self.root.iterdir()]
        for key in sorted({name for name in names if _KEY_RE.fullmatch(name)} - set(keep_keys)):
            with self._try_lock(key) as fd:
                if fd is None:
                    continue  # being built right now
                if (self.root / key).exists():
                    self._discard(self.root / key)
                    removed.append(key)
                (self.root / f"{key}.lock").unlink(missing_ok=True)
        return removed

    def list_envs(self) -> list[dict[str, Any]]:
        """Complete environments with key, requirements, size_bytes, created (ISO 8601, UTC)."""
        envs: list[dict[str, Any]] = []
        if not self.root.is_dir():
            return envs
        for entry in self.root.iterdir():
            if not _KEY_RE.fullmatch(entry.name):
                continue
            try:
                info = json.loads((entry / MARKER).read_text())
            except (OSError, ValueError):
                continue
            envs.append({"key": entry.name, "requirements": info.get("requirements", []),
                         "size_bytes": _tree_size(entry), "created": info.get("created"),
                         "python": info.get("python"), "installer": info.get("installer"),
                         "path": str(entry)})
        return sorted(envs, key=lambda env: (env["created"] or "", env["key"]))

    def _build(self, key: str, reqs: list[str], log: LogFn,
               cancel: threading.Event | None) -> None:
        """Build into a private temp dir, then rename it into place; nothing partial survives."""
        tmp = self.root / f".build-{key}-{os.getpid()}-{secrets.token_hex(4)}"
        final = self.root / key
        try:
            installer = self._install(tmp, key, reqs, log, cancel)
            if cancel is not None and cancel.is_set():
                raise EnvironmentBuildError("cancelled")
            _retarget_scripts(tmp, final)
            marker = {"key": key, "requirements": reqs, "base": list(BASE_PACKAGES),
                      "python": self.python_version, "abi": RUNTIME_ABI, "installer": installer,
                      "created": datetime.now(UTC).isoformat(timespec="seconds")}
            (tmp / MARKER).write_text(json.dumps(marker, indent=1) + "\n")
            try:
                os.rename(tmp, final)
            except OSError:
                if not self.is_ready(key):
                    raise
                # A builder outside our lock (another peak-tui version) won the race: use theirs.
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _install(self, target: Path, key: str, reqs: list[str], log: LogFn,
                 cancel: threading.Event | None) -> str:
        """Create the venv at `target` and install the base packages plus `reqs`; name the tool."""
        env = self._child_env()
        packages = [*BASE_PACKAGES, *reqs]
        target_python = str(target / "bin" / "python")
        prompt = f"peak-{key}"  # not the temp dir's name, which would outlive the rename
        uv = find_uv()
        if uv is not None:
            # --compile-bytecode: PYTHONDONTWRITEBYTECODE=1 is set machine-wide and envs may be
            # read-only, so without it every run recompiles every import. Measured (warm cache,
            # medians): requests build 0.47 -> 0.64 s, `import requests` 0.45 -> 0.28 s; pandas
            # build 0.74 -> 5.96 s, `import pandas` 2.66 -> 0.53 s. A build happens once per
            # dependency list, the import on every run, so compiling pays back within ~3 runs.
            steps = [
                [uv, "venv", "--quiet", "--no-project", "--relocatable", "--prompt", prompt,
                 "--python", self.python, str(target)],
                [uv, "pip", "install", "--no-progress", "--compile-bytecode",
                 "--python", target_python, *packages],
            ]
        else:
            steps = [
                [self.python, "-m", "venv", "--prompt", prompt, str(target)],
                [target_python, "-m", "pip", "install", "--no-input", "--progress-bar", "off",
                 "--disable-pip-version-check", *packages],
            ]
        if uv is not None:
            # Offline first: with a warm cache nothing needs PyPI, and asking it costs ~0.3 s per
            # build. Only when the cache cannot satisfy the list do we resolve online.
            code, tail = run_streaming(steps[0], env, self.root, log, cancel)
            if code != 0:
                raise EnvironmentBuildError(_failure_message(reqs, code, tail))
            code, tail = run_streaming([*steps[1], "--offline"], env, self.root,
                                       lambda line: log(f"(from cache) {line}"), cancel)
            if code == 0:
                return "uv"
            if code < 0:  # stopped by a signal, not a cache miss: do not carry on online
                raise EnvironmentBuildError(_failure_message(reqs, code, tail))
            log("not every package is in the local cache; resolving online")
            steps = steps[1:]
        for cmd in steps:
            code, tail = run_streaming(cmd, env, self.root, log, cancel)
            if code != 0:
                raise EnvironmentBuildError(_failure_message(reqs, code, tail))
        return "uv" if uv is not None else "pip"

    def _child_env(self) -> dict[str, str]:
        """Environment for installer processes: unbuffered, no inherited venv or PYTHONPATH."""
        # Allow-listed like a script's environment: a dependency's build step runs code from the
        # internet and must not see the runner's cloud keys or tokens.
        env = {k: v for k, v in os.environ.items()
               if k in INSTALLER_ENV_ALLOW or k.startswith(("UV_", "PIP_", "LC_"))}
        env.update(PYTHONUNBUFFERED="1", PIP_NO_INPUT="1", UV_PYTHON_DOWNLOADS="never")
        if self.cache_dir is not None:
            env["UV_CACHE_DIR"] = str(self.cache_dir)
            env["PIP_CACHE_DIR"] = str(self.cache_dir / "pip")
        return env

    @contextlib.contextmanager
    def _locked(self, key: str, log: LogFn, cancel: threading.Event | None) -> Iterator[None]:
        """Hold the cross-process lock of `key`, polling so that cancel is honoured while waiting."""
        announced = False
        while True:
            with self._try_lock(key) as fd:
                if fd is not None:
                    yield
                    return
            if not announced:
                log("Waiting for another build of this environment to finish...")
                announced = True
            if cancel is not None and cancel.wait(0.1):
                raise EnvironmentBuildError("cancelled")
            if cancel is None:
                time.sleep(0.1)

    @contextlib.contextmanager
    def _try_lock(self, key: str) -> Iterator[int | None]:
        """Take flock on root/<key>.lock without blocking; yield its fd, or None when busy."""
        path = self.root / f"{key}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            # gc may unlink the file between our open and flock; a lock on an orphan protects nothing.
            try:
                same = os.fstat(fd).st_ino == path.stat().st_ino
            except FileNotFoundError:
                same = False
            yield fd if same else None
        finally:
            os.close(fd)

    def _discard(self, path: Path) -> None:
        """Remove a directory by first renaming it out of sight, so it never looks half-deleted."""
        if not path.exists():
            return
        doomed = self.root / f".build-{path.name}-discard-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)


@contextlib.contextmanager
def _held() -> Iterator[int | None]:
    """A stand-in lock for names without a key: always acquired."""
    yield -1


def run_streaming(cmd: Sequence[str], env: dict[str, str], cwd: Path, log: LogFn,
                  cancel: threading.Event | None = None) -> tuple[int, list[str]]:
    """Run cmd in its own process group, sending each merged output line to log as it arrives.

    Returns the exit code (negative for a signal) and the last output lines. Setting `cancel`
    kills the whole process group and raises EnvironmentBuildError("cancelled").
    """
    tail: deque[str] = deque(maxlen=200)
    proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=cwd, env=env, start_new_session=True)
    assert proc.stdout is not None
    try:
        fd = proc.stdout.fileno()
        pending = b""
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                if cancel is not None and cancel.is_set():
                    raise EnvironmentBuildError("cancelled")
                if not selector.select(timeout=0.1):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                for raw in lines:
                    _emit(raw, log, tail)
        if pending:
            _emit(pending, log, tail)
        return proc.wait(), list(tail)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()


def _emit(raw: bytes, log: LogFn, tail: deque[str]) -> None:
    """Decode one output line, remember it and hand it to the log callback."""
    line = raw.decode("utf-8", errors="replace").rstrip("\r")
    tail.append(line)
    log(line)


def _failure_message(reqs: list[str], code: int, tail: list[str]) -> str:
    """A readable install failure: what was asked, how the installer ended, its error lines."""
    if code < 0:
        try:
            how = f"was stopped by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was stopped by signal {-code}"
    else:
        how = f"exited with code {code}"
    lines = [line.strip() for line in tail if line.strip()]
    first = next((i for i, line in enumerate(lines) if _ERROR_LINE.search(line)), None)
    excerpt = lines[first:first + 10] if first is not None else lines[-10:]
    wanted = ", ".join(reqs) if reqs else "the base packages"
    message = f"Could not install {wanted}: the installer {how}."
    return "\n".join([message, *excerpt])


def _retarget_scripts(build_dir: Path, final_dir: Path) -> None:
    """Point scripts that name the temp build dir (pip shebangs, activate) at the final dir."""
    old, new = str(build_dir).encode(), str(final_dir).encode()
    candidates = [build_dir / "pyvenv.cfg"]
    if (build_dir / "bin").is_dir():
        candidates += list((build_dir / "bin").iterdir())
    for path in candidates:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > 1_000_000:
            continue
        data = path.read_bytes()
        if old in data:
            path.write_bytes(data.replace(old, new))


def _tree_size(path: Path) -> int:
    """Apparent size of a directory tree in bytes (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total
