"""A corpus of bad input: each gets its exact, clear error and leaves the workspace as it was.

Validation cases must change nothing in the workspace database or the warehouse. Script cases run
and must add exactly one failed run (its row, its log, and the feed's pointer to it) and nothing else.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import peak_tui.runtime.child.lib as child_lib
from peak_tui.errors import Conflict, NotFound, PeakError, ValidationError
from peak_tui.execution import run_feed
from peak_tui.feedfile import import_file
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

Act = Callable[[Workspace, Path], Any]


@dataclass
class Case:
    """One bad input: what to do, and the exact message it must produce."""

    id: str
    act: Act
    message: str
    error: type[PeakError] = ValidationError


def dump(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the workspace database and the warehouse."""
    out: dict[str, list[dict[str, Any]]] = {}
    for label, path in (("ws", ws.home / "peak.db"), ("wh", ws.local.path)):
        conn = sqlite3.connect(path)
        conn.row_factory = sqlite3.Row
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            rows = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall()
            out[f"{label}.{table}"] = [dict(r) for r in rows]
        conn.close()
    return out


def conn(name: str, **kw: Any) -> Act:
    return lambda ws, d: ws.connections.add(Connection(name=name, **kw))


def custom(**kw: Any) -> Act:
    kw.setdefault("auth_url", "https://auth.example/token")
    return conn("cust", auth_type="custom", **kw)


def feed(name: str = "newfeed", create: bool | None = None, **kw: Any) -> Act:
    kw.setdefault("script", "print(1)\n")
    kw.setdefault("connection", "api")
    return lambda ws, d: ws.feeds.save(Feed(name=name, **kw), create=create)


def toml(text: str | bytes, files: dict[str, bytes] | None = None) -> Act:
    def act(ws: Workspace, d: Path) -> Any:
        for name, data in (files or {}).items():
            (d / name).write_bytes(data)
        path = d / "feed.toml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return import_file(ws, path)
    return act


T = 'name = "newfeed"\nconnection = "api"\n'
KEYS = ("name, connection, dependencies, script, script_file, load_type, destination, trigger, "
        "watchers, tags, paused, failed_row_threshold, timeout_seconds, memory_mb")
HDR_RULE = "connection.headers: a header name must be a non-empty HTTP token (no spaces or colons)"

CASES = [
    # names
    Case("conn-space", conn("my api"), "connection.name: must be alphanumeric (letters and digits only) "
                                       "(got 'my api')"),
    Case("conn-empty", conn(""), "connection.name: is required (got '')"),
    Case("conn-long", conn("c" * 65), f"connection.name: must be at most 64 characters (got {'c' * 65!r})"),
    Case("conn-dup", conn("api"), "connection.name: a connection named 'api' already exists", Conflict),
    Case("feed-digit", feed("1orders"), "feed.name: must start with a letter (got '1orders')"),
    Case("feed-trailing", feed("orders_"), "feed.name: must not end with an underscore (got 'orders_')"),
    Case("feed-dash", feed("or-ders"), "feed.name: may contain only letters, digits and underscores "
                                       "(got 'or-ders')"),
    Case("feed-long", feed("f" * 51), f"feed.name: must be at most 50 characters (got {'f' * 51!r})"),
    Case("feed-dup", feed("existing", create=True), "feed.name: a feed named 'existing' already exists",
         Conflict),
    Case("feed-case-twin", feed("EXISTING"), "feed.name: 'EXISTING' differs only in case from the feed "
                                             "'existing'; both would load into one warehouse table",
         Conflict),
    Case("tag-space", lambda ws, d: ws.feeds.set_tags("existing", ["ok", "not ok"]),
         "feed.tags: a tag must be alphanumeric (letters and digits only) (got 'not ok')"),
    Case("feed-no-conn", feed(connection="ghost"), "feed.connection: must name an existing connection "
                                                   "(got 'ghost')"),
    # custom auth: JSON bodies, headers, URL
    Case("body-bad-json", custom(body="{bad"), "connection.body: must be valid JSON: Expecting property "
                                               "name enclosed in double quotes at line 1 column 2"),
    Case("body-trailing-comma", custom(body='{"a": 1,}'), "connection.body: must be valid JSON: "
         "Expecting property name enclosed in double quotes at line 1 column 9"),
    Case("body-array", custom(body="[1, 2]"), "connection.body: must be a JSON object ({...})"),
    Case("body-string", custom(body='"token"'), "connection.body: must be a JSON object ({...})"),
    Case("header-space", custom(headers={"X Key": "v"}), f"{HDR_RULE} (got 'X Key')"),
    Case("header-colon", custom(headers={"X-Key:": "v"}), f"{HDR_RULE} (got 'X-Key:')"),
    Case("header-empty-name", custom(headers={"": "v"}), f"{HDR_RULE} (got '')"),
    Case("header-newline", custom(headers={"X-Key": "a\r\nInjected: 1"}),
         "connection.headers: the value of header 'X-Key' must be one line of text"),
    Case("headers-list", custom(headers=["X-Key: v"]), "connection.headers: must be a mapping of header "
                                                       "name to value (got ['X-Key: v'])"),
    Case("auth-url-ftp", custom(auth_url="ftp://auth.example"), "connection.auth_url: must be an http:// "
                                                                "or https:// URL (got 'ftp://auth.example')"),
    Case("auth-url-missing", custom(auth_url=""), "connection.auth_url: is required (got '')"),
    # feed TOML imports
    Case("toml-invalid", toml("name = \n"), "toml: is not valid TOML: Invalid value (at line 1, column 8) "
                                            "(got '{d}/feed.toml')"),
    Case("toml-unknown-key", toml(T + 'script = "x"\ncolour = "red"\n'),
         f"toml: has unknown key 'colour'; known keys: {KEYS} (got 'colour')"),
    Case("toml-no-name", toml('connection = "api"\nscript = "x"\n'), "toml.name: is required"),
    Case("toml-no-connection", toml('name = "newfeed"\nscript = "x"\n'), "toml.connection: is required"),
    Case("toml-no-script", toml(T), "toml.script: is required (or 'script_file')"),
    Case("toml-name-number", toml('name = 5\nconnection = "api"\nscript = "x"\n'),
         "feed.name: must be text (got 5)"),
    Case("toml-tags-string", toml(T + 'script = "x"\ntags = "fin"\n'),
         "feed.tags: must be a list of tags (got 'fin')"),
    Case("toml-timeout-string", toml(T + 'script = "x"\ntimeout_seconds = "10"\n'),
         "feed.timeout_seconds: must be a whole number >= 1 (got '10')"),
    Case("toml-paused-string", toml(T + 'script = "x"\npaused = "no"\n'),
         "feed.paused: must be true or false (got 'no')"),
    Case("toml-script-number", toml(T + "script = 5\n"), "feed.script: must be text (the Python source)"),
    Case("toml-watchers-table", toml(T + 'script = "x"\n[watchers]\nevents = ["failure"]\n'),
         "feed.watchers: must be a list of watcher tables ([[watchers]])"),
    Case("toml-trigger-unknown", toml(T + 'script = "x"\ntrigger = "hourly"\n'),
         "feed.trigger.type: must be one of manual, schedule, webhook, once (got 'hourly')"),
    Case("toml-script-file-missing", toml(T + 'script_file = "nope.py"\n'),
         "toml.script_file: cannot be read: No such file or directory (got '{d}/nope.py')"),
    Case("toml-script-and-file", toml(T + 'script = "x"\nscript_file = "a.py"\n'),
         "toml.script: give either 'script' or 'script_file', not both"),
    Case("toml-script-file-latin1", toml(T + 'script_file = "latin.py"\n', {"latin.py": b"x = '\xe9'\n"}),
         "toml.script_file: is not UTF-8 text (got '{d}/latin.py')"),
    Case("toml-not-utf8", toml(b'name = "f\xff"\n'),
         "file: is not UTF-8 text (TOML files are UTF-8) (got '{d}/feed.toml')"),
    Case("toml-destination-not-offered", toml(T + 'script = "x"\ndestination = "s3"\n'),
         "feed.destination: is not offered by this workspace's warehouse (local); choose one of local "
         "(got 's3')"),
    # requirement strings
    Case("req-operator", feed(dependencies=["pandas>>2"]),
         "dependencies: must be a pip requirement like 'pandas>=2.0' (got 'pandas>>2')"),
    Case("req-option", feed(dependencies=["-e ."]), "dependencies: must be a package requirement, not a "
                                                    "pip option such as -e or --index-url (got '-e .')"),
    Case("req-vcs", feed(dependencies=["git+https://github.com/psf/requests"]),
         "dependencies: must name a package on the index, not a URL, a path or 'name @ url' "
         "(got 'git+https://github.com/psf/requests')"),
    Case("req-shell", feed(dependencies=["requests; rm -rf /"]),
         "dependencies: must be a pip requirement like 'pandas>=2.0' (got 'requests; rm -rf /')"),
    Case("req-one-string", feed(dependencies="pandas"),
         "dependencies: must be a list of requirements, not one string (got 'pandas')"),
    # scripts refused at save
    Case("script-syntax", feed(script="x = 1\ny = (\nprint(x)\n"),
         "feed.script: has a syntax error on line 2: '(' was never closed"),
    Case("script-null-byte", feed(script="x = 1\x00\n"),
         "feed.script: has a syntax error: source code string cannot contain null bytes"),
    Case("script-empty", feed(script="  \n\n"), "feed.script: must not be empty"),
    # a feed name that is a path must not become one (lock files are named after feeds)
    Case("run-path-name", lambda ws, d: run_feed(ws, "../../../escaped"),
         "no feed named '../../../escaped'", NotFound),
]


@pytest.fixture
def base(ws: Workspace) -> Workspace:
    """A workspace with a connection and a feed, so 'unchanged' has something to compare."""
    ws.connections.add(Connection(name="api"))
    ws.feeds.save(Feed(name="existing", connection="api", script="print('existing')\n", tags=["t"]))
    return ws


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_with_exact_message_and_nothing_changes(base: Workspace, tmp_path: Path,
                                                        case: Case) -> None:
    d = tmp_path / "in"
    d.mkdir()
    before = dump(base)
    with pytest.raises(PeakError) as info:
        case.act(base, d)
    assert type(info.value) is case.error
    assert info.value.message == case.message.replace("{d}", str(d))
    assert dump(base) == before
    assert not list(base.home.parent.glob("**/escaped*"))


LIB = Path(child_lib.__file__)
RUN_CASES = [
    ("import-error", "import pandas_not_installed\n",
     "ModuleNotFoundError: No module named 'pandas_not_installed' (add the package that provides it "
     "to the feed's dependencies)"),
    ("lib-wrong-name", "from lib import output_stream\n",
     f"ImportError: cannot import name 'output_stream' from 'lib' ({LIB})"),
    ("lib-write-string", "from lib import outputStream\noutputStream.write('a,b,c')\n",
     "record #0 is not a JSON object (got str)"),
    ("lib-metadata-list", "from lib import metadata\nmetadata.save(['cursor'])\n",
     "lib.LibUsageError: metadata.save() needs a JSON object (a dict), got list"),
    ("record-unserialisable", "from lib import outputStream\noutputStream.write({'ids': {1, 2}})\n",
     "record #0 cannot be serialised: Object of type set is not JSON serializable"),
    ("record-100mb", "from lib import outputStream\noutputStream.write({'big': 'x' * 100_000_000})\n",
     "record #0 is 100,000,011 bytes, over the limit of 67,108,864 bytes"),
    ("script-exit-status", "import sys\nsys.exit(3)\n", "the script exited with status 3"),
]


@pytest.mark.parametrize(("script", "message"), [c[1:] for c in RUN_CASES], ids=[c[0] for c in RUN_CASES])
def test_failing_scripts_add_exactly_one_failed_run(base: Workspace, script: str, message: str) -> None:
    base.feeds.save(Feed(name="existing", connection="api", script=script, tags=["t"]))
    before = dump(base)
    run = run_feed(base, "existing")
    assert (run.status, run.error, run.records) == ("failed", message, 0)
    after = dump(base)
    new_runs = [r for r in after["ws.runs"] if r not in before["ws.runs"]]
    assert [(r["id"], r["status"], r["error"]) for r in new_runs] == [(run.id, "failed", message)]
    assert [r["run_id"] for r in after["ws.run_logs"]] == [run.id]
    (feed_before,), (feed_after,) = before["ws.feeds"], after["ws.feeds"]
    assert feed_after.pop("last_run_id") == run.id  # the feed's only change: its last run
    feed_before.pop("last_run_id")
    assert feed_after == feed_before
    for key in before:
        if key not in ("ws.runs", "ws.run_logs", "ws.feeds", "ws.sqlite_sequence"):
            assert after[key] == before[key], key
    assert base.local.tables() == []


def test_binary_stdout_does_not_break_the_log(base: Workspace) -> None:
    script = ("import sys\nfrom lib import outputStream\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00bin\\x80\\n'"
              " * 3 + b'no newline at the end \\xc3')\nsys.stdout.flush()\nprint()\n"
              "outputStream.write({'ok': 1})\n")
    base.feeds.save(Feed(name="existing", connection="api", script=script))
    run = run_feed(base, "existing")
    assert (run.status, run.records) == ("succeeded", 1)
    log = base.runs.logs(run.id)
    assert log.count("\ufffd\ufffd\x00bin\ufffd\n") == 3 and "no newline at the end \ufffd\n" in log
