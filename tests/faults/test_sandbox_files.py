"""The sandbox's edges: oversized records, files past the size limit, stdin, session and scratch cleanup.

Scripts run as real child processes of run_feed / test_feed in this process; `lower_limits` makes the
file size limit small enough to reach quickly.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from peak_tui.execution import run_feed, test_feed
from peak_tui.models import Feed
from peak_tui.workspace import Workspace

from .support import alive, wait_for


def test_record_of_100_mb_is_refused_with_the_limit(ws: Workspace,
                                                    make_feed: Callable[..., Feed]) -> None:
    make_feed("huge", "from lib import outputStream\n"
                      "outputStream.write({'id': 1})\n"
                      "outputStream.write({'blob': 'x' * (100 * 1024 * 1024)})\n")
    run = run_feed(ws, "huge")
    assert run.status == "failed"
    assert run.error == "record #1 is 104,857,612 bytes, over the limit of " \
                        "67,108,864 bytes"
    assert ws.local.tables() == []  # the record before it was not loaded either


def test_raw_oversized_line_on_the_records_pipe_is_refused(ws: Workspace,
                                                           make_feed: Callable[..., Feed]) -> None:
    """A script bypassing outputStream's check cannot make the engine buffer 100 MB either."""
    make_feed("rawhuge", "import lib\n"
                         "lib._channel.write_line(b'{\"x\": \"' + b'y' * (100 * 1024 * 1024) + b'\"}\\n')\n")
    run = run_feed(ws, "rawhuge")
    assert (run.status, run.error) == ("failed", "record #0 is over the limit of 67,108,864 bytes")


def _tmpdir_writer(default_sigxfsz: bool) -> str:
    head = "import os, signal\n"
    if default_sigxfsz:  # Python ignores SIGXFSZ; a script (or a C tool) may not
        head += "signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
    return head + ("path = os.path.join(os.environ['TMPDIR'], 'big.bin')\n"
                   "with open(path, 'wb') as f:\n"
                   "    for _ in range(64):\n"
                   "        f.write(b'z' * (1024 * 1024))\n")


def test_big_tmpdir_file_hits_the_file_size_limit(ws: Workspace, make_feed: Callable[..., Feed],
                                                  lower_limits: Callable[..., None]) -> None:
    lower_limits(file_size_mb=8)
    make_feed("efbig", _tmpdir_writer(default_sigxfsz=False))
    run = run_feed(ws, "efbig")
    assert run.status == "failed"
    assert run.error == ("OSError: [Errno 27] File too large (a file the script wrote went over "
                         "the file size limit of 8 MB)")
    make_feed("sigxfsz", _tmpdir_writer(default_sigxfsz=True))
    run = run_feed(ws, "sigxfsz")
    assert (run.status, run.error) == ("failed",
                                       "the script was over its file size limit of 8 MB (SIGXFSZ)")
    assert not list(ws.tmp_dir.iterdir()), "the 8 MB file in TMPDIR was not cleaned up"


ISOLATION = """\
import os, subprocess, sys
from lib import outputStream
tmp = os.environ["TMPDIR"]
os.makedirs(os.path.join(tmp, "sub", "deeper"))
open(os.path.join(tmp, "sub", "deeper", "f.txt"), "w").write("scratch")
bg = subprocess.Popen(["sleep", "600"])  # left running on purpose
outputStream.write({"stdin": sys.stdin.read(), "tty": os.isatty(0), "pid": os.getpid(),
                    "sid": os.getsid(0), "pgid": os.getpgid(0), "ppid": os.getppid(),
                    "cwd": os.getcwd(), "tmp": tmp, "bg": bg.pid})
"""


def test_stdin_closed_own_session_and_scratch_removed(ws: Workspace,
                                                      make_feed: Callable[..., Feed]) -> None:
    make_feed("iso", ISOLATION)
    run = run_feed(ws, "iso")
    assert run.status == "succeeded", ws.runs.logs(run.id)
    cols, rows = ws.local.query("SELECT stdin, tty, pid, sid, pgid, ppid, cwd, tmp, bg FROM iso")
    rec: dict[str, Any] = dict(zip(cols, rows[0], strict=True))
    assert rec["stdin"] == "" and rec["tty"] == 0  # stdin is /dev/null: EOF at once, no terminal
    assert rec["sid"] == rec["pgid"] == rec["pid"] != os.getsid(0)  # its own session and group
    assert rec["ppid"] == os.getpid()
    assert rec["cwd"] == rec["tmp"] and rec["tmp"].startswith(str(ws.tmp_dir))
    assert not os.path.exists(rec["tmp"]) and not list(ws.tmp_dir.iterdir())
    wait_for(lambda: not alive(rec["bg"]), "the background sleep the script left behind to end", 10)


def test_test_runs_clean_up_their_scratch_too(ws: Workspace, make_feed: Callable[..., Feed]) -> None:
    feed = make_feed("iso2", ISOLATION)
    result = test_feed(ws, feed)
    assert result.ok and result.records[0]["stdin"] == ""
    assert not list(ws.tmp_dir.iterdir())
    wait_for(lambda: not alive(result.records[0]["bg"]), "the test run's background sleep to end", 10)
