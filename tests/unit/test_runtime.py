"""The `lib` contract, through real script runs (`test_feed` / `run_feed`) against the demo API."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from peak_tui.demo_api import DEMO_CLIENT_SECRET, DEMO_PASSWORD, DemoAPI
from peak_tui.execution import run_feed, test_feed
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace


def save(ws: Workspace, script: str, name: str = "f", connection: str = "demo", **kw: Any) -> Feed:
    if not ws.connections.exists(connection):
        ws.connections.add(Connection(name=connection))
    return ws.feeds.save(Feed(name=name, connection=connection, script=script, **kw))


INCREMENTAL = """\
import requests
from lib import outputStream, metadata, trigger

first = metadata == {} and len(metadata) == 0
n = metadata.get("n", 0)
if not first:
    assert metadata["n"] == n  # item access works like get
rows = requests.get("%s/api/orders", params={"per_page": 3}, timeout=10).json()["data"]
for o in rows:
    outputStream.write({"id": o["id"], "first": first, "n": n})
metadata.save({"n": n + 1, "last": rows[-1]["updated_at"]})
if trigger.payload == "fail":
    raise RuntimeError("failing after save")
"""


def test_imports_and_metadata_across_runs(ws: Workspace, demo_api: DemoAPI) -> None:
    save(ws, INCREMENTAL % demo_api.url)
    preview = test_feed(ws, ws.feeds.get("f"))
    assert preview.ok, preview.log
    assert (preview.total, preview.metadata_before, preview.metadata_after["n"]) == (3, {}, 1)
    assert [r["first"] for r in preview.records] == [True] * 3
    assert ws.local.tables() == [] and ws.feeds.metadata("f") == {} and ws.runs.list() == []
    one = run_feed(ws, "f")
    assert (one.status, one.records, one.metadata_before) == ("succeeded", 3, {})
    assert ws.feeds.metadata("f")["n"] == 1
    two = run_feed(ws, "f")
    assert two.metadata_before == one.metadata_after and two.metadata_after["n"] == 2
    _, rows = ws.local.query("SELECT first, n FROM f ORDER BY rowid")
    assert rows == [(1, 0)] * 3 + [(0, 1)] * 3
    broken = run_feed(ws, "f", payload="fail")  # saved metadata, then failed: nothing commits
    assert broken.status == "failed" and broken.error == "RuntimeError: failing after save"
    assert ws.feeds.metadata("f")["n"] == 2
    assert ws.local.query("SELECT count(*) FROM f")[1] == [(6,)]
    again = test_feed(ws, ws.feeds.get("f"))  # Test starts from the last committed metadata
    assert again.metadata_before["n"] == 2 and again.records[0] == {"id": 1, "first": False, "n": 2}
    assert ws.feeds.metadata("f")["n"] == 2


def test_metadata_save_needs_json(ws: Workspace) -> None:
    script = "from lib import metadata\nx = 1\nmetadata.save({'when': {1, 2}})\n"
    result = test_feed(ws, save(ws, script))
    assert not result.ok and result.error_line == 3
    assert result.error == ("lib.LibUsageError: metadata.save() got a value that is not "
                            "JSON-serialisable: Object of type set is not JSON serializable")
    result = test_feed(ws, save(ws, "from lib import metadata\nmetadata.save([1])\n"))
    assert result.error == "lib.LibUsageError: metadata.save() needs a JSON object (a dict), got list"


def test_connection_objects(demo_ws: Workspace, demo_api: DemoAPI, tmp_path: Path) -> None:
    token_file = tmp_path / "token.txt"
    checks = {
        "demo": "out = {'auth': connection.auth, 'token': connection.token, "
                "'headers': connection.headers, 'type': connection.auth_type}",
        "demobasic": "s = connection.session()\n"
                     "out = {'session': s.get(URL + '/api/basic/customers').status_code,\n"
                     "       'auth': requests.get(URL + '/api/basic/customers', auth=connection.auth)"
                     ".status_code, 'user': connection.username}",
        "democustom": f"open({str(token_file)!r}, 'w').write(connection.token)\n"
                      "print('token is', connection.token)\n"
                      "out = {'bearer': connection.headers['Authorization'] == 'Bearer ' + "
                      "connection.token, 'type': connection.auth_response['token_type'], "
                      "'session': connection.session().get(URL + '/api/token/invoices').status_code}",
    }
    expected = {
        "demo": {"auth": None, "token": None, "headers": {}, "type": "none"},
        "demobasic": {"session": 200, "auth": 200, "user": "demo"},
        "democustom": {"bearer": True, "type": "Bearer", "session": 200},
    }
    for conn, body in checks.items():
        script = (f"import requests\nfrom lib import outputStream, connection\nURL = {demo_api.url!r}\n"
                  f"{body}\noutputStream.write(out)\n")
        result = test_feed(demo_ws, Feed(name=f"check_{conn}", connection=conn, script=script))
        assert result.ok, result.log
        assert result.records == [expected[conn]]
    token = token_file.read_text()
    assert len(token) > 8
    assert f"[peak] auth: POST {demo_api.url}/auth/token -> HTTP 200 in " in result.log
    assert "token is ****" in result.log
    assert token not in result.log and DEMO_CLIENT_SECRET not in result.log


def test_records_channel_is_not_stdout(ws: Workspace) -> None:
    script = ("import sys\nfrom lib import outputStream\nprint('{\"id\": 1}')\n"
              "sys.stdout.write('{\"id\": 2}\\n')\nprint('{\"id\": 3}', file=sys.stderr)\n")
    result = test_feed(ws, save(ws, script))
    assert result.ok and result.total == 0 and result.records == []
    assert '{"id": 1}\n{"id": 2}\n{"id": 3}\n' in result.log


def test_bad_records_fail_the_run_even_when_caught(ws: Workspace) -> None:
    script = ("from lib import outputStream\noutputStream.write({'ok': 1})\n"
              "try:\n    outputStream.write(%s)\nexcept Exception as e:\n    print('caught', e)\n"
              "outputStream.write({'ok': 2})\n")
    cases = {
        "['not', 'a', 'dict']": "record #1 is not a JSON object (got list)",
        "{'when': object()}": "record #1 cannot be serialised: Object of type object is not JSON "
                              "serializable",
        "{'x': float('nan')}": "record #1 cannot be serialised: Out of range float values are not "
                               "JSON compliant",
    }
    for record, message in cases.items():
        save(ws, script % record)
        run = run_feed(ws, "f")
        assert (run.status, run.error, run.records) == ("failed", message, 0)
        assert f"caught {message}" in ws.runs.logs(run.id)
    assert ws.local.tables() == []


def test_logs_stream_while_the_script_runs(ws: Workspace, tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = (f"import os, sys, time\nprint('early line')\n"
              f"print('to stderr', file=sys.stderr)\ndeadline = time.monotonic() + 20\n"
              f"while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:\n"
              f"    time.sleep(0.01)\nprint('released', os.path.exists({str(go)!r}))\n"
              f"print('late line')\nraise SystemExit('done badly')\n")
    lines: list[str] = []

    def on_log(line: str) -> None:
        lines.append(line)
        if line == "early line":
            go.touch()  # the script waits for this: it only continues if the line came early

    save(ws, script)
    run = run_feed(ws, "f", on_log=on_log)
    assert run.status == "failed" and run.error == "the script exited with status 1"
    assert lines.index("early line") < lines.index("late line")
    log = ws.runs.logs(run.id)
    for part in ("[peak] run #1 of feed f", "early line\nto stderr\n", "released True\nlate line\n",
                 "done badly",
                 "[peak] run failed: the script exited with status 1"):
        assert part in log
    result = test_feed(ws, save(ws, "go = 1\nraise ValueError('bad ' + str(go))\n"))
    assert result.error == "ValueError: bad 1" and result.error_line == 2
    assert result.traceback.startswith("Traceback (most recent call last):")
    assert 'File "f.py", line 2, in <module>' in result.log


def test_limits_timeout_memory_stdin_and_log_cap(ws: Workspace) -> None:
    save(ws, "import time\nprint('sleeping')\ntime.sleep(60)\n", timeout_seconds=1)
    t0 = time.monotonic()
    run = run_feed(ws, "f")
    assert (run.status, run.error) == ("failed", "timed out after 1 s; the script was killed")
    assert time.monotonic() - t0 < 15
    save(ws, "blob = bytearray(1024 * 1024 * 1024)\n", memory_mb=256)
    assert run_feed(ws, "f").error == ("MemoryError: the script went over its memory limit of "
                                       "256 MB (feed.memory_mb)")
    save(ws, "name = input('name? ')\n", timeout_seconds=30)
    assert run_feed(ws, "f").error == "EOFError: EOF when reading a line"
    save(ws, "line = 'x' * 99\nfor i in range(60000):\n    print(i, line)\nprint('THE END')\n")
    run = run_feed(ws, "f")
    assert run.status == "succeeded"
    row = ws.store.query_one("SELECT size, truncated, length(text) AS kept FROM run_logs "
                             "WHERE run_id=?", (run.id,))
    assert row is not None and row["truncated"] == 1 and row["size"] > 6_000_000
    assert row["kept"] <= 4 * 1024 * 1024 + 300
    log = ws.runs.logs(run.id)
    assert log.startswith("[peak] run #") and "of log were dropped here" in log
    assert "59999 xxx" in log and "THE END\n" in log and "\n5 xxx" in log


def test_handled_tracebacks_and_background_processes_do_not_fail_a_run(ws: Workspace) -> None:
    script = ("import logging, os\nfrom lib import outputStream\ntry:\n    1 / 0\n"
              "except ZeroDivisionError:\n    logging.exception('retrying')\n"
              "os.system('sleep 30 &')\noutputStream.write({'ok': 1})\n")
    save(ws, script, timeout_seconds=25)
    t0 = time.monotonic()
    run = run_feed(ws, "f")
    assert (run.status, run.records, run.error) == ("succeeded", 1, None)
    assert time.monotonic() - t0 < 15  # not held until the timeout by the background sleep
    assert "ZeroDivisionError: division by zero" in ws.runs.logs(run.id)


def test_cancel_kills_the_process_tree(ws: Workspace, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script = (f"import subprocess, time\np = subprocess.Popen(['sleep', '300'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(p.pid))\nprint('spawned')\ntime.sleep(300)\n")
    cancel = threading.Event()
    save(ws, script)
    run = run_feed(ws, "f", cancel=cancel, on_log=lambda line: line == "spawned" and cancel.set())
    assert (run.status, run.error) == ("cancelled", "cancelled")
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.02)
    assert not _alive(pid), f"sleep child {pid} survived the cancel"


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_secrets_never_reach_env_or_command_line(demo_ws: Workspace, monkeypatch: Any) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "parent-env-secret-123")
    demo_ws.connections.update("democustom", headers={"X-Extra": "header-secret-456"},
                               body={"client_id": "demo-client", "client_secret": DEMO_CLIENT_SECRET,
                                     "extra": "body-secret-789"})
    secrets = [DEMO_PASSWORD, DEMO_CLIENT_SECRET, "header-secret-456", "body-secret-789",
               "parent-env-secret-123"]
    script = ("import os, json\nfrom lib import outputStream, connection\n"
              "env = json.dumps(dict(os.environ)) + open('/proc/self/environ', 'rb').read().decode()\n"
              "cmd = open('/proc/self/cmdline', 'rb').read().decode()\n"
              f"for s in {secrets!r}:\n"
              "    outputStream.write({'in_env': s in env, 'in_cmd': s in cmd})\n"
              "outputStream.write({'has_token': bool(connection.token or connection.password)})\n")
    for conn in ("demobasic", "democustom"):
        result = test_feed(demo_ws, Feed(name="spy", connection=conn, script=script))
        assert result.ok, result.log
        assert result.records[:-1] == [{"in_env": False, "in_cmd": False}] * len(secrets)
        assert result.records[-1] == {"has_token": True}


def test_test_returns_preview_and_commits_nothing(demo_ws: Workspace) -> None:
    feed = demo_ws.feeds.get("demo_orders")
    result = test_feed(demo_ws, feed)
    assert result.ok and result.total == 250 and len(result.records) == 10
    assert ("id", "integer") in result.columns and ("status", "string") in result.columns
    assert result.metadata_before == {} and result.metadata_after["updated_since"] > "2026"
    assert json.loads(json.dumps(result.to_dict()))["columns"][0]["name"] == "id"
    assert demo_ws.local.tables() == [] and demo_ws.runs.list() == []
    assert demo_ws.feeds.metadata("demo_orders") == {}
