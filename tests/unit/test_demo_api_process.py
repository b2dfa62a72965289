"""DemoAPIProcess: the demo API in a process of its own, which frees its port on stop, refuses a busy
port, and dies with the process that started it."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from test_warm import alive, wait_for

from peak_tui.demo_api import DemoAPIProcess, orders_total


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None
    return port


def accepts(port: int) -> bool:
    """Something listens on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def demo_children() -> set[int]:
    """Live demo API processes whose parent is this process."""
    me = str(os.getpid())
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[1] == me and fields[0] != "Z" and b"serve_forever(port=" in cmdline:
            found.add(int(entry.name))
    return found


def test_serves_then_stops_and_frees_its_port():
    before = demo_children()
    with DemoAPIProcess() as api:
        assert api.url.startswith("http://127.0.0.1:")
        port = port_of(api.url)
        assert api._proc is not None
        pid = api._proc.pid
        assert pid != os.getpid() and demo_children() == before | {pid}
        assert requests.get(f"{api.url}/health", timeout=10).json() == {"ok": True}
        body = requests.get(f"{api.url}/api/orders", params={"per_page": 5}, timeout=10).json()
        assert body["total"] == orders_total() == 250 and len(body["data"]) == 5
        assert body["page"] == 1 and body["next_page"] == 2
    assert not accepts(port)
    assert not alive(pid) and api._proc is None
    assert demo_children() == before
    api.stop()  # stopping again is harmless


def test_a_busy_port_raises_oserror_and_leaves_no_child():
    with DemoAPIProcess() as first:
        port = port_of(first.url)
        assert first._proc is not None
        running = demo_children()
        assert first._proc.pid in running
        busy = DemoAPIProcess(port=port)
        with pytest.raises(OSError, match=f"could not serve on port {port}"):
            busy.start()
        assert busy._proc is None and busy.url == ""
        assert demo_children() == running  # the second child is gone (and reaped)
        assert requests.get(f"{first.url}/health", timeout=10).json() == {"ok": True}


PARENT = textwrap.dedent("""\
    import sys, time
    from peak_tui.demo_api import DemoAPIProcess
    api = DemoAPIProcess().start()
    print(api.url, api._proc.pid, flush=True)
    time.sleep(120)
""")


def test_the_server_dies_with_the_process_that_started_it():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, text=True)
    pid = 0
    try:
        assert parent.stdout is not None
        ready, _, _ = select.select([parent.stdout], [], [], 20)
        assert ready, "the parent did not report the demo API"
        url, pid_text = parent.stdout.readline().split()
        pid, port = int(pid_text), port_of(url)
        assert alive(pid) and requests.get(f"{url}/health", timeout=10).json() == {"ok": True}
        parent.kill()  # SIGKILL: no cleanup code of the parent runs
        parent.wait(10)
        assert wait_for(lambda: not alive(pid), 5), "the demo API outlived its parent"
        assert wait_for(lambda: not accepts(port), 5), "the port is still served"
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
        if pid and alive(pid):  # do not leave a server behind when the test fails
            os.kill(pid, signal.SIGKILL)
