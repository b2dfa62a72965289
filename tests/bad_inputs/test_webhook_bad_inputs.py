"""Bad webhook calls against a real endpoint: each gets its exact status and JSON body, and the
workspace (every table) is unchanged, except a call to a paused feed, which adds exactly one
skipped run saying why.

Requests are written by hand on a socket, so a body can lie about its length.
"""
from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from peak_tui import webhook_keys as keys
from peak_tui.dispatcher import Dispatcher
from peak_tui.models import Connection, Feed
from peak_tui.webhook import MAX_BODY, WebhookServer
from peak_tui.workspace import Workspace

SCRIPT = "from lib import outputStream, trigger\noutputStream.write({'payload': str(trigger.payload)})\n"
UNAUTHORIZED = {"error": "unauthorized"}
BAD_SIGNATURE = {"error": "missing or wrong X-Peak-Signature (expected sha256=<hex HMAC-SHA256 of "
                          "the raw body>)"}


@dataclass
class Endpoint:
    """A workspace with webhook feeds, its dispatcher and its HTTP server on a free port."""

    ws: Workspace
    server: WebhookServer
    dispatcher: Dispatcher
    secret: str

    def path(self, feed: str) -> str:
        return keys.hook_path(feed, self.ws.feeds.state(feed)["webhook_token"])

    def send(self, method: str, path: str, body: bytes = b"", headers: dict[str, Any] | None = None,
             *, length: int | str | None = None, end: bool = False) -> tuple[int, dict[str, Any]]:
        """One request; `length` overrides Content-Length, `end` stops sending after the body."""
        head = {"Host": "x", "Content-Length": str(len(body) if length is None else length),
                **(headers or {})}
        lines = "".join(f"{k}: {v}\r\n" for k, v in head.items() if v is not None)
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(f"{method} {path} HTTP/1.1\r\n{lines}\r\n".encode() + body)
            if end:
                s.shutdown(socket.SHUT_WR)
            data = b""
            while b"\r\n\r\n" not in data:
                data += _recv(s)
            top, _, rest = data.partition(b"\r\n\r\n")
            size = int(next(h.split(b":")[1] for h in top.split(b"\r\n")
                            if h.lower().startswith(b"content-length:")))
            while len(rest) < size:
                rest += _recv(s)
        return int(top.split()[1]), json.loads(rest[:size])


def _recv(s: socket.socket) -> bytes:
    chunk = s.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection without a complete answer")
    return chunk


def dump(ws: Workspace) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the workspace database."""
    conn = sqlite3.connect(ws.home / "peak.db")
    conn.row_factory = sqlite3.Row
    out = {t: [dict(r) for r in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid')]
           for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    return out


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory, shared_envs_dir: Path) -> Iterator[Endpoint]:
    old = os.environ.get("PEAK_TUI_KEYRING")
    os.environ["PEAK_TUI_KEYRING"] = "0"
    home = tmp_path_factory.mktemp("badhooks") / "ws"
    home.mkdir()
    (home / "envs").symlink_to(shared_envs_dir, target_is_directory=True)
    ws = Workspace.open(home)
    ws.connections.add(Connection(name="local"))
    for name, hmac in (("hooked", False), ("signed", True), ("nosecret", True), ("paused", False),
                       ("formerhook", False)):
        ws.feeds.save(Feed(name=name, connection="local", script=SCRIPT,
                           trigger={"type": "webhook", "hmac": hmac}), create=True)
    secret = keys.new_hmac_secret(ws, "signed")
    ws.feeds.set_paused("paused", True)
    ws.feeds.save(Feed(name="formerhook", connection="local", script=SCRIPT))  # now manual; token kept
    dispatcher = Dispatcher(ws, workers=2)
    server = WebhookServer(ws, dispatcher, "127.0.0.1", 0).start()
    yield Endpoint(ws, server, dispatcher, secret)
    server.stop()
    dispatcher.shutdown(grace=5)
    if old is None:
        os.environ.pop("PEAK_TUI_KEYRING", None)
    else:
        os.environ["PEAK_TUI_KEYRING"] = old


PathOf = Callable[[Endpoint], str]


def hook_of(feed: str, suffix: str = "") -> PathOf:
    """The feed's webhook path (with its token) plus a suffix."""
    return lambda h: h.path(feed) + suffix


def lit(text: str) -> PathOf:
    return lambda h: text


def signed_with(body: bytes, prefix: str = "sha256=") -> Callable[[Endpoint], dict[str, str]]:
    """An X-Peak-Signature made with the feed's real secret, over `body`."""
    return lambda h: {"X-Peak-Signature": keys.sign(h.secret, body).replace("sha256=", prefix)}


@dataclass
class Req:
    """One bad request and the exact answer it must get."""

    id: str
    path: PathOf
    status: int
    answer: dict[str, Any]
    method: str = "POST"
    body: bytes = b"{}"
    headers: Callable[[Endpoint], dict[str, str]] | dict[str, str | None] = field(default_factory=dict)
    length: int | str | None = None  # a Content-Length that differs from the body
    end: bool = False  # stop sending after the body


HOOKED = hook_of("hooked")
REF = b'{"ref": "v1"}'
NOT_ALLOWED = "is not allowed: POST to a webhook URL runs its feed, GET its runs/<id> reads a run"
NOT_JSON = "the body is not valid JSON: "
WAIT = {"error": "wait must be a number of seconds (at most 600)"}
CASES = [
    Req("no-token", lit("/hooks/hooked"), 401, UNAUTHORIZED),
    Req("empty-token", lit("/hooks/hooked/"), 401, UNAUTHORIZED),
    Req("wrong-token", lit("/hooks/hooked/" + "A" * 43), 401, UNAUTHORIZED),
    Req("unknown-feed", lambda h: h.path("hooked").replace("hooked", "nosuchfeed"), 401, UNAUTHORIZED),
    Req("other-feeds-token", lambda h: h.path("signed").replace("signed", "hooked"), 401, UNAUTHORIZED),
    Req("path-traversal", lit("/hooks/../../etc/passwd"), 404, {"error": "not found"}),
    Req("extra-path", hook_of("hooked", "/extra"), 404, {"error": "not found"}),
    Req("unknown-route", lit("/run/hooked"), 404, {"error": "not found"}),
    Req("get-hook-url", HOOKED, 405, {"error": "POST to this URL to run the feed"}, "GET", b""),
    Req("put", HOOKED, 405, {"error": f"method PUT {NOT_ALLOWED}"}, "PUT"),
    Req("delete", HOOKED, 405, {"error": f"method DELETE {NOT_ALLOWED}"}, "DELETE", b""),
    Req("post-to-run-status", hook_of("hooked", "/runs/1"), 405,
        {"error": "GET this URL to read the run; POST to the feed's webhook URL to run it"}),
    Req("status-of-no-run", hook_of("hooked", "/runs/999999"), 404,
        {"error": "feed hooked has no run 999999"}, "GET", b""),
    Req("status-not-a-number", hook_of("hooked", "/runs/abc"), 404,
        {"error": "feed hooked has no run abc"}, "GET", b""),
    Req("over-the-limit", HOOKED, 413,
        {"error": f"the body is {MAX_BODY + 1} bytes; the limit is {MAX_BODY} bytes"}, body=b"",
        length=MAX_BODY + 1),
    Req("body-shorter-than-said", HOOKED, 400, {"error": "the body ended before Content-Length bytes"},
        body=b'{"a"', length=10, end=True),
    Req("body-longer-than-said", HOOKED, 400,
        {"error": NOT_JSON + "Unterminated string starting at: line 1 column 2 (char 1)"},
        body=b'{"a": 1}', length=3),
    Req("length-not-a-number", HOOKED, 400, {"error": "Content-Length must be a whole number"},
        length="two"),
    Req("length-negative", HOOKED, 400, {"error": "Content-Length must be a whole number"}, length="-1"),
    Req("chunked", HOOKED, 411, {"error": "send the body with a Content-Length (no chunked encoding)"},
        body=b"2\r\n{}\r\n0\r\n\r\n",
        headers={"Transfer-Encoding": "chunked", "Content-Length": None}),
    Req("malformed-json", HOOKED, 400, {"error": NOT_JSON + "Expecting value: line 1 column 10 (char 9)"},
        body=b'{"open": '),
    Req("not-utf8", HOOKED, 400, {"error": NOT_JSON + "'utf-8' codec can't decode byte 0xff in position "
                                           "7: invalid start byte"}, body=b'{"x": "\xff"}'),
    Req("nested-too-deep", HOOKED, 400, {"error": NOT_JSON + "it is nested too deeply"},
        body=b"[" * 200_000),
    Req("wait-not-a-number", hook_of("hooked", "?wait=soon"), 400, WAIT),
    Req("wait-negative", hook_of("hooked", "?wait=-1"), 400, WAIT),
    Req("not-webhook-anymore", hook_of("formerhook"), 409,
        {"error": "feed formerhook is not triggered by webhook (its trigger is manual)"}),
    Req("hmac-without-secret", hook_of("nosecret"), 409,
        {"error": "feed nosecret requires an HMAC signature but has no secret yet; create one with: "
                  "peak-tui feed webhook nosecret --hmac-secret"}),
    Req("hmac-missing-header", hook_of("signed"), 401, BAD_SIGNATURE, body=REF),
    Req("hmac-zeros", hook_of("signed"), 401, BAD_SIGNATURE, body=REF,
        headers={"X-Peak-Signature": "sha256=" + "0" * 64}),
    Req("hmac-of-another-body", hook_of("signed"), 401, BAD_SIGNATURE, body=REF,
        headers=signed_with(REF + b" ")),
    Req("hmac-sha1-prefix", hook_of("signed"), 401, BAD_SIGNATURE, body=REF,
        headers=signed_with(REF, "sha1=")),
]


@pytest.mark.parametrize("req", CASES, ids=[c.id for c in CASES])
def test_bad_call_gets_exact_answer_and_changes_nothing(hook: Endpoint, req: Req) -> None:
    headers = req.headers(hook) if callable(req.headers) else req.headers
    before = dump(hook.ws)
    got = hook.send(req.method, req.path(hook), req.body, headers, length=req.length, end=req.end)
    assert got == (req.status, req.answer)
    assert dump(hook.ws) == before
    assert hook.dispatcher.active() == []


def test_paused_feed_records_exactly_one_skipped_run(hook: Endpoint) -> None:
    before = dump(hook.ws)
    reason = "feed paused is paused; resume it to accept webhook runs"
    assert hook.send("POST", hook.path("paused"), b'{"x": 1}') == (409, {"error": reason})
    after = dump(hook.ws)
    new = [r for r in after["runs"] if r not in before["runs"]]
    assert [(r["feed"], r["trigger"], r["status"], r["error"], r["records"]) for r in new] == [
        ("paused", "webhook", "skipped", "webhook call refused: the feed is paused", 0)]
    assert new[0]["queued_at"] == new[0]["started_at"] == new[0]["ended_at"]
    assert {k: v for k, v in after.items() if k not in ("runs", "sqlite_sequence")} == \
        {k: v for k, v in before.items() if k not in ("runs", "sqlite_sequence")}


def test_a_json_array_is_accepted_as_the_payload(hook: Endpoint) -> None:
    """Non-object JSON is not refused: callers (CI systems) send arrays and strings too."""
    status, answer = hook.send("POST", hook.path("hooked") + "?wait=60", b'[1, "two"]')
    assert (status, answer["status"], answer["records"]) == (200, "succeeded", 1)
    _, rows = hook.ws.local.query("SELECT payload FROM hooked")
    assert rows == [("[1, 'two']",)]
