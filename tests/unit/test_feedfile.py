"""Feed TOML: minimal imports get defaults, script_file is relative to the TOML, export round-trips."""
from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from peak_tui.feedfile import export, import_file, parse, to_toml
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace


def plain(feed: Feed) -> dict[str, Any]:
    """A feed's fields without the timestamps the database sets."""
    d = dataclasses.asdict(feed)
    d.pop("created_at")
    d.pop("updated_at")
    return d


def test_minimal_import_gets_defaults_then_updates(ws: Workspace, tmp_path: Path) -> None:
    ws.connections.add(Connection(name="api"))
    path = tmp_path / "orders.toml"
    path.write_text('name = "orders"\nconnection = "api"\nscript = "print(1)\\n"\n')
    feed, created = import_file(ws, path)
    assert created is True
    got = ws.feeds.get("orders")
    assert (got.destination, got.trigger, got.dependencies, got.tags) == (
        {"type": "local"}, {"type": "manual"}, [], [])
    assert (got.script, got.load_type, got.paused, got.timeout_seconds) == ("print(1)\n", "incremental",
                                                                           False, 3600)
    path.write_text('name = "orders"\nconnection = "api"\nscript = "print(2)\\n"\ntags = ["fin"]\n')
    again, created = import_file(ws, path)
    assert created is False and again.created_at == got.created_at
    assert (ws.feeds.get("orders").script, ws.feeds.get("orders").tags) == ("print(2)\n", ["fin"])
    assert len(ws.feeds.list()) == 1


def test_script_file_is_relative_to_the_toml(ws: Workspace, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    ws.connections.add(Connection(name="api"))
    (tmp_path / "project" / "scripts").mkdir(parents=True)
    (tmp_path / "project" / "scripts" / "orders.py").write_text("print('från fil')\n", encoding="utf-8")
    toml = tmp_path / "project" / "orders.toml"
    toml.write_text('name = "orders"\nconnection = "api"\nscript_file = "scripts/orders.py"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    import_file(ws, toml)
    assert ws.feeds.get("orders").script == "print('från fil')\n"


TRICKY_SCRIPTS = [
    "print('a')\r\nprint('b')\r\n",
    "x = 1   \n\nif x:\n\ty = 2\t\n",
    '"""doc with \\"quotes\\" and \'\'\' inside"""\ns = "back\\\\slash\\\\"\n',
    "s = 'ends with backslash \\\\'\n# c:\\path\\to\\\n",
    "\n\nprint('leading blank lines')\n",
    "name = 'Zoë 東京 😀'\n# \x0c form feed and \u2028 separator\n",
    "s = '''\n\"\"\" three quotes\n'''\n",
    "print('no newline at end')",
]


@pytest.mark.parametrize("script", TRICKY_SCRIPTS)
def test_export_import_export_is_identical(ws: Workspace, tmp_path: Path, script: str) -> None:
    ws.connections.add(Connection(name="api"))
    ws.feeds.save(Feed(name="tricky", connection="api", script=script, tags=["a"],
                       dependencies=["requests>=2"],
                       trigger={"type": "schedule", "cron": "0 15 10 ? * 6L", "timezone": "UTC"},
                       watchers=[{"events": ["failure"], "channel": "email", "to": ["a@b.co"]}]))
    before = ws.feeds.get("tricky")
    first = export(ws, "tricky")
    (tmp_path / "t.toml").write_text(first, encoding="utf-8")
    _, created = import_file(ws, tmp_path / "t.toml")
    assert created is False
    after = ws.feeds.get("tricky")
    assert plain(after) == plain(before)
    assert after.script == script.replace("\r\n", "\n")
    assert export(ws, "tricky") == first


def test_export_never_holds_secrets(ws: Workspace) -> None:
    ws.connections.add(Connection(name="basic", auth_type="basic", username="u", password="pw-Secret-42"))
    ws.connections.add(Connection(name="custom", auth_type="custom", auth_url="https://a.example/t",
                                  headers={"X-Key": "hdr-Secret-43"}, body={"s": "body-Secret-44"}))
    script = ("PASSWORD = 'pw-Secret-42'\nHEADERS = {'X-Key': 'hdr-Secret-43'}\n"
              "BODY = {'s': 'body-Secret-44'}\n")
    ws.feeds.save(Feed(name="leaky", connection="basic", script=script))
    text = export(ws, "leaky")
    for secret in ("pw-Secret-42", "hdr-Secret-43", "body-Secret-44"):
        assert secret not in text
    assert "PASSWORD = '****'" in text and "BODY = {'s': '****'}" in text
    assert ws.feeds.get("leaky").script == script  # masking is for output only


REQS = st.lists(st.sampled_from(["requests>=2", "pandas", "Flask[async]>=2.0", "python-dateutil",
                                 "urllib3<3; python_version >= '3.8'", "orjson==3.9.0"]),
                max_size=3)
TRIGGERS = st.sampled_from([
    {"type": "manual"}, {"type": "webhook", "hmac": True}, {"type": "webhook", "hmac": False},
    {"type": "schedule", "cron": "0 0/15 * * * ?", "timezone": "Europe/London"},
    {"type": "schedule", "basic": {"days": ["MON", "FRI"], "time": "09:30"}},
    {"type": "once", "at": "2026-12-01T09:30"},
])
WATCHERS = st.lists(st.sampled_from([
    {"events": ["success", "failure"], "channel": "email", "to": ["a@b.co", "ops@x.io"]},
    {"events": ["runtime_exceeded"], "runtime_minutes": 30, "channel": "webhook", "name": "ops",
     "url": "https://hooks.example/x", "payload": '{"feed": "{feed}", "q": "\\"x\\""}'},
]), max_size=2)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
COMMENT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"),
                  max_size=30)


@st.composite
def scripts(draw: st.DrawFn) -> str:
    lines = []
    for i in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["assign", "comment", "triple", "blank"]))
        if kind == "assign":
            line = f"v{i} = {draw(TEXT)!r}"
        elif kind == "comment":
            line = "# " + draw(COMMENT)
        elif kind == "triple":
            body = draw(st.text(st.sampled_from("ab \\\"'\t\né"), max_size=20))
            line = f'r{i} = """{body}x"""'
        else:
            line = ""
        lines.append(line + " " * draw(st.integers(0, 2)) + draw(st.sampled_from(["\n", "\r\n"])))
    script = "".join(lines)
    assume(script.strip())
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(script, "s", "exec")
    except (SyntaxError, ValueError):
        assume(False)
    return script


@st.composite
def feeds(draw: st.DrawFn) -> Feed:
    return Feed(
        name=draw(st.from_regex(r"[A-Za-z](?:[A-Za-z0-9_]{0,48}[A-Za-z0-9])?", fullmatch=True)),
        connection="api", script=draw(scripts()), dependencies=draw(REQS),
        trigger=dict(draw(TRIGGERS)), watchers=[dict(w) for w in draw(WATCHERS)],
        tags=draw(st.lists(st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True), max_size=3)),
        paused=draw(st.booleans()),
        failed_row_threshold=draw(st.one_of(st.just(0.0), st.floats(0, 1), st.sampled_from([0, 1]))),
        timeout_seconds=draw(st.integers(1, 10**6)), memory_mb=draw(st.integers(64, 65536)),
    ).validate()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feeds())
def test_toml_round_trip_property(feed: Feed) -> None:
    text = to_toml(feed)
    back = parse(text)
    assert plain(back) == plain(feed)
    assert to_toml(back) == text
