"""Child entry point: read the run's config from a pipe, apply limits, then run the feed's script.

Runs in the feed's environment with the standard library only. Its directory is sys.path[0], so the
script's `from lib import ...` finds lib.py beside this file.
"""
from __future__ import annotations

import json
import linecache
import os
import resource
import sys
import traceback


def _read_config(fd: int) -> dict:
    chunks = []
    with os.fdopen(fd, "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            chunks.append(b)
    return json.loads(b"".join(chunks))


def _apply_limits(limits: dict) -> None:
    def setlim(which: int, value: int | None, grace: int = 0) -> None:
        if not value:
            return
        soft, hard = resource.getrlimit(which)
        want = value + grace
        new_hard = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(which, (min(value, new_hard), new_hard))
        except (ValueError, OSError):
            pass

    mem = limits.get("memory_mb")
    if mem:
        setlim(resource.RLIMIT_AS, int(mem) * 1024 * 1024)
    # SIGXCPU at the soft limit names the cause; at the hard limit the kernel sends SIGKILL, which
    # reads like the memory killer, so the hard limit comes a little later
    setlim(resource.RLIMIT_CPU, limits.get("cpu_seconds"), grace=2)
    fsize = limits.get("file_size_mb")
    if fsize:
        setlim(resource.RLIMIT_FSIZE, int(fsize) * 1024 * 1024)
    procs = limits.get("processes")
    if procs and os.getuid() != 0:  # root is exempt; the engine's process watchdog covers it
        # RLIMIT_NPROC counts every process of the user (their shell, tmux, the TUI...), so the
        # limit is "this many more than the user runs now", not a total a busy user is already over
        setlim(resource.RLIMIT_NPROC, _user_processes() + int(procs))
    try:  # a core dump is a memory image holding the connection's secrets: never write one
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def _user_processes() -> int:
    """How many processes (threads count too, as RLIMIT_NPROC counts them) this user runs now."""
    uid = os.getuid()
    n = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}")
            if st.st_uid == uid:
                n += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return n


def _die_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when the engine that started it dies (kill -9 of the runner, a crash).

    Without it a script would live on as an orphan: sleeping, retrying, or blocked on a pipe.
    Linux only; elsewhere the engine's process-group kill is the only guard.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except (OSError, AttributeError):
        return
    if parent_pid and os.getppid() != parent_pid:  # the engine died before prctl took effect
        os._exit(1)


def _warm_up() -> None:
    """A spare child, started before its Test: import what every feed script imports while it waits.

    Nothing here reads the config, so a spare holds no secrets until a Test hands it one.
    """
    try:
        import requests  # noqa: F401
    except Exception:  # the script's own import will raise it again, where the user sees it
        pass


def main() -> int:
    config_fd, records_fd = int(sys.argv[1]), int(sys.argv[2])
    _die_with_parent(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    # not inherited by what the script starts (os.system, fork): a background process holding
    # the records pipe would keep the engine waiting for its end
    os.set_inheritable(records_fd, False)
    if sys.argv[4:5] == ["warm"]:
        _warm_up()
        os.write(records_fd, b"R\n")  # ready: the engine skips this line when it reads records
    config = _read_config(config_fd)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    _apply_limits(config.get("limits") or {})
    sys.argv = [config.get("script_name", "feed.py")]
    import lib

    lib._init(config, records_fd)
    filename = config.get("script_name", "feed.py")
    source = config["script"]
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    scope = {"__name__": "__main__", "__file__": filename, "__builtins__": __builtins__}
    ok = False
    status = 1
    try:
        code = compile(source, filename, "exec")
        exec(code, scope)
        ok = True
    except SystemExit as e:
        ok = e.code in (None, 0)
        if not ok:
            print(f"script exited with status {e.code}", file=sys.stderr)
            # keep the script's own status so the engine's message names it (1 for sys.exit("text"))
            status = e.code if isinstance(e.code, int) and 0 < e.code < 256 else 1
    except BaseException as e:  # the script's own failure: print its traceback without our frame
        tb = e.__traceback__
        if tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        sys.stdout.flush()
        report = traceback.TracebackException(type(e), e, tb)
        # frames inside lib.py say nothing to the script's author: the call into lib is the news
        while len(report.stack) > 1 and report.stack[-1].filename == lib.__file__:
            report.stack.pop()
        sys.stderr.write("".join(report.format()))
        sys.stderr.flush()
    finally:
        lib._finish(ok)
        sys.stdout.flush()
        sys.stderr.flush()
    return 0 if ok else status


def _flush_open_files() -> None:
    """Flush every file still open for writing, as a normal exit's teardown would (a file the
    script left in a reference cycle included: finalizing a cycle may close the raw file before
    its buffer is written, CPython bpo-17852). ~15 ms with requests imported, measured."""
    import gc
    import io

    kinds = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom)
    files = [obj for obj in gc.get_objects() if isinstance(obj, kinds)]
    for f in sorted(files, key=lambda f: not isinstance(f, io.TextIOWrapper)):  # text, then bytes
        try:
            if not f.closed:
                f.flush()
        except Exception:  # a file that cannot be written now could not at a normal exit either
            pass


def _exit(status: int) -> None:
    """Leave without the interpreter's teardown: with requests imported it takes 40-60 ms after
    the last record (measured), time every Test and run waited for. What a normal exit does that a
    script can see still happens, in the same order: its non-daemon threads are joined, atexit
    handlers run (logging flushes its handlers there), and files it left open are flushed.
    (Objects' __del__ methods do not run; a normal exit does not promise them either.)"""
    import atexit

    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
        atexit._run_exitfuncs()
        _flush_open_files()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


if __name__ == "__main__":
    _exit(main())
