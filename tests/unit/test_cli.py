"""The CLI as a user runs it: real subprocesses, JSON output, the engine's messages, no secrets in argv."""
from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from peak_tui.demo_api import DemoAPI
from peak_tui.errors import PeakError
from peak_tui.feedfile import export
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

Cli = Callable[..., Any]
SECRETS = ("pw-stdin-771", "pw-env-772", "hdr-env-773", "body-file-774", "body-stdin-775",
           "body-env-776")


def test_connection_commands_take_secrets_without_argv(ws: Workspace, cli: Cli, tmp_path: Path) -> None:
    body_file = tmp_path / "body.json"
    body_file.write_text('{"client_id": "c", "client_secret": "body-file-774"}')
    calls = [
        (("connection", "add", "viastdin", "--auth", "basic", "--username", "u", "--password-stdin"),
         "pw-stdin-771\n", None),
        (("connection", "add", "viaenv", "--auth", "basic", "--username", "u", "--secret-env", "PW"),
         None, {"PW": "pw-env-772"}),
        (("connection", "add", "custfile", "--auth", "custom", "--auth-url", "https://a.example/t",
          "--header-env", "X-Key=HDR", "--body", f"@{body_file}"), None, {"HDR": "hdr-env-773"}),
        (("connection", "add", "custstdin", "--auth", "custom", "--auth-url", "https://a.example/t",
          "--header", "X-Plain: visible", "--body", "-"), '{"s": "body-stdin-775"}', None),
    ]
    for args, stdin, env in calls:
        res = cli(*args, input=stdin, env=env)
        assert res.code == 0, res
        assert res.out == f"connection {args[2]} added ({args[4]})\n"
    ws.connections.add(Connection(name="open"))
    ws.feeds.save(Feed(name="uses_it", connection="viaenv", script="print(1)\n"))
    batch = cli.batch([
        ("connection", "add", "custenv", "--auth", "custom", "--auth-url", "https://a.example/t",
         "--body-env", "BODY"),
        ("connection", "edit", "viaenv", "--auth", "custom"),
        ("connection", "delete", "viaenv"),
        ("connection", "add", "nopw", "--auth", "basic", "--username", "u"),
        ("connection", "add", "x", "--auth", "basic", "--username", "u", "--secret-env", "NOPE_VAR"),
        ("connection", "show", "custfile", "--json"),
    ], env={"BODY": '{"s": "body-env-776"}'})
    assert batch[0].code == 0, batch[0]
    assert ws.connections.get("viastdin").password == "pw-stdin-771"
    assert ws.connections.get("viaenv").password == "pw-env-772"
    assert ws.connections.get("custfile").headers == {"X-Key": "hdr-env-773"}
    assert ws.connections.get("custfile").body == {"client_id": "c", "client_secret": "body-file-774"}
    assert ws.connections.get("custstdin").headers == {"X-Plain": "visible"}
    assert ws.connections.get("custstdin").body == {"s": "body-stdin-775"}
    assert ws.connections.get("custenv").body == {"s": "body-env-776"}

    listed = cli("connection", "list", "--json")
    assert listed.code == 0 and [c["name"] for c in listed.json()] == [
        "custenv", "custfile", "custstdin", "open", "viaenv", "viastdin"]
    shown = batch[5]
    assert shown.json()["headers"] == {"X-Key": "****"} and shown.json()["used_by"] == []
    assert shown.json()["body"] == {"client_id": "****", "client_secret": "****"}
    assert not any(s in listed.out + shown.out for s in SECRETS)
    engine_calls = [
        lambda: ws.connections.update("viaenv", auth_type="custom"),
        lambda: ws.connections.delete("viaenv"),
        lambda: ws.connections.add(Connection(name="nopw", auth_type="basic", username="u")),
    ]
    for res, engine_call in zip(batch[1:4], engine_calls, strict=True):
        with pytest.raises(PeakError) as info:
            engine_call()
        assert (res.code, res.out) == (info.value.exit_code, ""), res
        assert res.err == f"error: {info.value.title}: {info.value.message}\n"
    assert batch[4].err == ("error: Invalid input: --secret-env: names an unset environment variable "
                            "(for the password) (got 'NOPE_VAR')\n")
    assert batch[2].err.endswith("is used by 1 feed(s): uses_it; change or delete those feeds first\n")
    edited = cli("connection", "edit", "viastdin", "--password-stdin", input="pw-new-779\n")
    assert (edited.code, edited.out) == (0, "connection viastdin updated\n")
    assert ws.connections.get("viastdin").password == "pw-new-779"
    deleted = cli("connection", "delete", "open")
    assert (deleted.code, deleted.out, ws.connections.exists("open")) == (0, "connection open deleted\n",
                                                                          False)


def test_feed_commands_end_to_end(demo_ws: Workspace, cli: Cli, tmp_path: Path) -> None:
    toml = tmp_path / "mine.toml"
    toml.write_text('name = "mine"\nconnection = "demo"\nscript = """\nfrom lib import outputStream, '
                    'metadata\nprint(\'working\')\noutputStream.write({"n": metadata.get("n", 0)})\n'
                    'metadata.save({"n": metadata.get("n", 0) + 1})\n"""\n')
    imported = cli("feed", "import", str(toml), "--json")
    assert imported.json() == {"name": "mine", "created": True}
    out_file = tmp_path / "exported.toml"
    listed, exported = cli.batch([("feed", "list", "--tag", "demo", "--json"),
                                  ("feed", "export", "mine", "-o", str(out_file))])
    assert [f["name"] for f in listed.json()] == ["demo_customers", "demo_invoices", "demo_orders"]
    assert exported.code == 0 and out_file.read_text() == export(demo_ws, "mine")
    tags, paused = cli.batch([("feed", "tags", "mine", "fin", "eu"), ("feed", "pause", "mine")])
    assert tags.out == "fin eu\n" and demo_ws.feeds.get("mine").tags == ["fin", "eu"]
    assert paused.out == "feed mine paused\n" and demo_ws.feeds.get("mine").paused is True
    tags, resumed = cli.batch([("feed", "tags", "mine"), ("feed", "resume", "mine")])
    assert (tags.out, resumed.out) == ("fin eu\n", "feed mine resumed\n")
    assert demo_ws.feeds.get("mine").paused is False

    tested = cli("feed", "test", "mine", "--json")
    assert tested.code == 0, tested
    t = tested.json()
    assert (t["ok"], t["total"], t["records"], t["metadata_before"], t["metadata_after"]) == (
        True, 1, [{"n": 0}], {}, {"n": 1})
    assert "working" in tested.err  # logs stream to stderr, the document to stdout
    ran = cli("feed", "run", "mine", "--json")
    assert ran.code == 0, ran
    run = ran.json()
    assert (run["status"], run["records"], run["trigger"], run["metadata_after"]) == (
        "succeeded", 1, "cli", {"n": 1})
    shown, runs, log, sql = cli.batch([("feed", "show", "mine", "--json"), ("runs", "mine", "--json"),
                                       ("logs", str(run["id"])), ("sql", "SELECT n FROM mine", "--json")])
    assert (shown.json()["metadata"], shown.json()["last_run_id"]) == ({"n": 1}, run["id"])
    assert [r["id"] for r in runs.json()] == [run["id"]] and runs.json()[0]["duration"] >= 0
    assert log.out == demo_ws.runs.logs(run["id"]) and "working\n" in log.out
    assert sql.json() == [{"n": 0}]

    demo_ws.feeds.save(Feed(name="broken", connection="demo", script="raise ValueError('nope')\n"))
    failed, bad_test, gone = cli.batch([("feed", "run", "broken"), ("feed", "test", "broken"),
                                        ("feed", "delete", "mine")])
    assert failed.code == 1
    assert re.fullmatch(r"run #\d+ failed: 0 records in [\d.]+s - ValueError: nope\n", failed.out)
    assert bad_test.code == 1 and "test failed: ValueError: nope\n  at line 1 of the script\n" in bad_test.err
    assert gone.out == "feed mine deleted (its table in the warehouse is kept)\n"
    assert not demo_ws.feeds.exists("mine") and "mine" in demo_ws.local.tables()
    missing = cli.batch([("feed", "show", "mine"), ("logs", "9999")])
    assert [(r.code, r.err) for r in missing] == [(3, "error: Not found: no feed named 'mine'\n"),
                                                  (3, "error: Not found: no run #9999\n")]


def test_feed_run_shows_progress_on_a_terminal(demo_ws: Workspace, demo_api: DemoAPI) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PEAK_TUI_HOME"} | {
        "PEAK_TUI_KEYRING": "0", "TERM": "xterm", "COLUMNS": "100"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "peak_tui", "--home", str(demo_ws.home), "feed", "run",
                             "demo_orders"], stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=30) == 0
    text = b"".join(chunks).decode("utf-8", "replace")
    assert "records  " in text and "/s  " in text and "elapsed" in text
    assert "run #1 succeeded: 250 records in " in text
