"""The script sandbox: same user, allow-listed environment, and every limit breach stopped with a message.

Scripts run as real child processes of a real runner (the CLI, or run_feed in this process). Tests
that need a small limit lower it through `lower_limits` (the Limits of this process's runs).
"""
from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from peak_tui.execution import limits_for, run_feed
from peak_tui.models import Feed
from peak_tui.runtime.process import ENV_ALLOW
from peak_tui.workspace import Workspace

from .support import run_cli, session_members, wait_for

ENV_DUMP = """\
import json, os, resource, sys
from lib import outputStream
lims = {n: list(resource.getrlimit(getattr(resource, n)))
        for n in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_CORE")}
outputStream.write({"env": json.dumps(dict(os.environ)),
                    "raw": open("/proc/self/environ", "rb").read().decode("utf-8", "replace"),
                    "cmdline": open("/proc/self/cmdline", "rb").read().decode("utf-8", "replace"),
                    "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
                    "limits": json.dumps(lims)})
"""


def test_script_inherits_only_allow_listed_variables(ws: Workspace,
                                                     make_feed: Callable[..., Feed]) -> None:
    token = secrets.token_hex(16)
    planted = {"AWS_SECRET_ACCESS_KEY": "aws-" + token, "PEAK_TUI_HOME": "/srv/peak-home-" + token,
               "SNOWFLAKE_PASSWORD": "snow-" + token, "MY_TOKEN": token,
               "PYTHONPATH": "/nonexistent-" + token, "TZ": "Europe/Paris", "LC_TIME": "C.UTF-8"}
    make_feed("envdump", ENV_DUMP)
    r = run_cli(ws.home, "feed", "run", "envdump", "-q", env=planted)
    assert r.returncode == 0, r.stderr
    cols, rows = ws.local.query("SELECT env, raw, cmdline, uid, euid, gid, limits FROM envdump")
    rec = dict(zip(cols, rows[0], strict=True))
    env = json.loads(rec["env"])
    allowed = set(ENV_ALLOW) | {"TMPDIR", "PYTHONIOENCODING"}
    extra = {k for k in env if k not in allowed and not k.startswith("LC_")}
    # Python itself may add LC_CTYPE when it coerces the C locale; nothing else is tolerated
    assert extra <= {"LC_CTYPE"}, f"variables outside the allow-list reached the script: {extra}"
    assert env["TZ"] == "Europe/Paris" and env["LC_TIME"] == "C.UTF-8"  # the allow-list does pass
    assert env["TMPDIR"].startswith(str(ws.tmp_dir) + os.sep)
    for name, value in planted.items():
        if name in ("TZ", "LC_TIME"):
            continue
        assert name not in env
        assert value not in rec["raw"] and value not in rec["cmdline"], f"{name} leaked"
    assert (rec["uid"], rec["euid"], rec["gid"]) == (os.getuid(), os.geteuid(), os.getgid())
    lims = json.loads(rec["limits"])
    want = limits_for(ws.feeds.get("envdump"))
    assert want.memory_mb and want.file_size_mb
    assert lims["RLIMIT_AS"][0] == want.memory_mb * 1024 * 1024
    assert lims["RLIMIT_CPU"][0] == want.cpu_seconds
    assert lims["RLIMIT_FSIZE"][0] == want.file_size_mb * 1024 * 1024
    assert lims["RLIMIT_CORE"] == [0, 0], "a core dump would write the script's secrets to disk"


FORK_BOMB = """\
import os, time
print("SID", os.getsid(0), flush=True)
while True:  # one new process every 5 ms, each of which starts one grandchild
    if os.fork() == 0:
        if os.fork() == 0:
            time.sleep(120)
        time.sleep(120)
        os._exit(0)
    time.sleep(0.005)
"""


def _sid_from(log: str) -> int:
    return int(next(line for line in log.splitlines() if line.startswith("SID "))[4:])


def test_fork_bomb_is_stopped_and_no_process_survives(ws: Workspace,
                                                      make_feed: Callable[..., Feed]) -> None:
    make_feed("bomb", FORK_BOMB, timeout_seconds=60)
    t0 = time.monotonic()
    run = run_feed(ws, "bomb")
    assert time.monotonic() - t0 < 20
    assert run.status == "failed"
    assert run.error == f"the script started more than {limits_for(ws.feeds.get('bomb')).processes} " \
                        "processes and was stopped (process limit)"
    log = ws.runs.logs(run.id)
    assert "(process limit)" in log
    sid = _sid_from(log)
    wait_for(lambda: session_members(sid) == [], f"every process of session {sid} to end", 10)
    assert not list(ws.tmp_dir.iterdir())


def test_sleeping_forever_times_out_with_its_children(ws: Workspace,
                                                      make_feed: Callable[..., Feed]) -> None:
    make_feed("sleeper", """\
        import os, subprocess, time
        print("SID", os.getsid(0), flush=True)
        subprocess.Popen(["sleep", "600"])
        time.sleep(600)
        """, timeout_seconds=2)
    t0 = time.monotonic()
    run = run_feed(ws, "sleeper")
    took = time.monotonic() - t0
    assert (run.status, run.error) == ("failed", "timed out after 2 s; the script was killed")
    assert 2 <= took < 12, took
    log = ws.runs.logs(run.id)
    assert "run failed: timed out after 2 s" in log
    sid = _sid_from(log)
    wait_for(lambda: session_members(sid) == [], f"session {sid} (script and its sleep) to end", 10)


def test_memory_hog_is_stopped_with_the_limit_named(ws: Workspace,
                                                    make_feed: Callable[..., Feed]) -> None:
    make_feed("hog", """\
        chunks = []
        while True:
            chunks.append(bytearray(16 * 1024 * 1024))
        """, memory_mb=128)
    run = run_feed(ws, "hog")
    assert run.status == "failed"
    assert run.error == "MemoryError: the script went over its memory limit of 128 MB (feed.memory_mb)"
    assert "memory limit of 128 MB" in ws.runs.logs(run.id)


def test_cpu_hog_is_stopped_by_the_cpu_limit(ws: Workspace, make_feed: Callable[..., Feed],
                                             lower_limits: Callable[..., None]) -> None:
    lower_limits(cpu_seconds=1)
    make_feed("spin", "while True:\n    pass\n", timeout_seconds=60)
    t0 = time.monotonic()
    run = run_feed(ws, "spin")
    assert time.monotonic() - t0 < 30  # 1 s of CPU; a loaded machine stretches the wall time
    assert (run.status, run.error) == ("failed",
                                       "the script was over its CPU time limit of 1 s (SIGXCPU)")
    assert "CPU time limit of 1 s" in ws.runs.logs(run.id)


NPROC_PROBE = """\
import subprocess, sys
sys.path.insert(0, sys.argv[1])
import _peak_bootstrap
_peak_bootstrap._apply_limits({"processes": 8})
ok = sum(subprocess.run(["true"]).returncode == 0 for _ in range(3))
kids = []
try:
    for _ in range(40):
        kids.append(subprocess.Popen(["sleep", "30"]))
except OSError as e:
    print("refused", e.errno)
print("ok", ok, "started", len(kids))
for k in kids:
    k.kill()
"""


def test_process_limit_counts_new_processes_for_a_busy_non_root_user(tmp_path: Any) -> None:
    """RLIMIT_NPROC counts all of a user's processes: a user already running many must still fork.

    Runs the bootstrap's limits as `nobody` (uid 65534) with the system Python (the venv's lives
    under /root), after starting 70 processes as that user: over the old fixed limit of 64.
    """
    import shutil
    import subprocess

    from peak_tui.runtime.process import CHILD_DIR

    python = shutil.which("python3", path="/usr/bin:/bin:/usr/local/bin")
    assert python, "this test needs a system python3 that uid 65534 can run"
    assert os.geteuid() == 0, "this test switches to uid 65534, which needs root (CI runs as root)"

    nobody = {"user": 65534, "group": 65534, "extra_groups": []}
    busy = [subprocess.Popen(["sleep", "60"], **nobody) for _ in range(70)]  # type: ignore[call-overload]
    try:
        out = subprocess.run([python, "-c", NPROC_PROBE, str(CHILD_DIR)], capture_output=True,
                             text=True, timeout=60, cwd="/", **nobody)  # type: ignore[call-overload]
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    assert "refused" in words, "the limit did not bind: a non-root fork bomb would be unbounded"
    ok, started = int(words[words.index("ok") + 1]), int(words[words.index("started") + 1])
    assert ok == 3, "a busy user's script could not start even one subprocess"
    assert 4 <= started <= 8, started
