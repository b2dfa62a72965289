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
    def setlim(which: int, value: int | None) -> None:
        if not value:
            return
        soft, hard = resource.getrlimit(which)
        new_hard = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (min(value, new_hard), new_hard))
        except (ValueError, OSError):
            pass

    mem = limits.get("memory_mb")
    if mem:
        setlim(resource.RLIMIT_AS, int(mem) * 1024 * 1024)
    setlim(resource.RLIMIT_CPU, limits.get("cpu_seconds"))
    fsize = limits.get("file_size_mb")
    if fsize:
        setlim(resource.RLIMIT_FSIZE, int(fsize) * 1024 * 1024)
    setlim(resource.RLIMIT_NPROC, limits.get("processes"))


def main() -> int:
    config_fd, records_fd = int(sys.argv[1]), int(sys.argv[2])
    # not inherited by what the script starts (os.system, fork): a background process holding
    # the records pipe would keep the engine waiting for its end
    os.set_inheritable(records_fd, False)
    config = _read_config(config_fd)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
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


if __name__ == "__main__":
    sys.exit(main())
