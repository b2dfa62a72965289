"""The webhook endpoint over real HTTP: tokens, HMAC, body limits, paused and busy feeds, and the
JSON payload reaching the script as `trigger.payload`."""
from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from peak_tui import webhook_keys as keys
from peak_tui.dispatcher import Dispatcher
from peak_tui.models import Connection, Feed
from peak_tui.webhook import MAX_BODY, WebhookServer
from peak_tui.workspace import Workspace

SCRIPT = """import json
import time
from lib import outputStream, trigger
time.sleep(SLEEP)
outputStream.write({"id": 1, "source": trigger.source, "payload": json.dumps(trigger.payload)})
"""


class Hook:
    """A workspace with its dispatcher and webhook server on a free port."""

    def __init__(self, home: Path) -> None:
        self.ws = Workspace.open(home)
        self.ws.connections.add(Connection(name="local", auth_type="none"))
        self.dispatcher = Dispatcher(self.ws, workers=3)
        self.server = WebhookServer(self.ws, self.dispatcher, "127.0.0.1", 0).start()

    def feed(self, name: str, *, hmac: bool = False, sleep: float = 0.0) -> str:
        self.ws.feeds.save(Feed(name=name, connection="local", script=SCRIPT.replace("SLEEP", str(sleep)),
                                trigger={"type": "webhook", "hmac": hmac}), create=True)
        return self.url(name)

    def url(self, name: str) -> str:
        return self.server.url + keys.hook_path(name, self.ws.feeds.state(name)["webhook_token"])

    def wait_run(self, status_url: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = requests.get(status_url, timeout=5).json()
            if body["status"] not in ("queued", "running"):
                return body
            time.sleep(0.1)
        raise AssertionError(f"run at {status_url} did not finish")


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hook]:
    old = os.environ.get("PEAK_TUI_KEYRING")
    os.environ["PEAK_TUI_KEYRING"] = "0"
    h = Hook(tmp_path_factory.mktemp("webhook") / "ws")
    h.ws.envs.ensure([])  # build the feed environment once for the module
    yield h
    h.server.stop()
    h.dispatcher.shutdown(grace=5)
    if old is None:
        os.environ.pop("PEAK_TUI_KEYRING", None)
    else:
        os.environ["PEAK_TUI_KEYRING"] = old


def raw_post(hook: Hook, path: str, headers: str, body: bytes = b"",
             end: bool = False) -> tuple[int, bytes]:
    """A hand-written request, to send a Content-Length the body does not match."""
    with socket.create_connection(("127.0.0.1", hook.server.port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body)
        if end:  # the client stops sending: the server sees the body end early
            s.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def test_payload_reaches_the_script_and_the_warehouse(hook: Hook) -> None:
    url = hook.feed("hooked")
    payload = {"branch": "main", "sha": "abc123", "nested": {"n": [1, 2]}, "quote": 'a"b'}
    r = requests.post(url, json=payload, timeout=30)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["feed"] == "hooked" and isinstance(body["run_id"], int) and body["status"] == "running"
    assert body["status_url"].startswith(url + "/runs/")
    final = hook.wait_run(body["status_url"])
    assert final["status"] == "succeeded" and final["trigger"] == "webhook" and final["records"] == 1
    cols, rows = hook.ws.local.query("SELECT source, payload FROM hooked")
    assert rows[0][0] == "webhook" and json.loads(rows[0][1]) == payload


def test_wait_parameter_answers_with_the_finished_run(hook: Hook) -> None:
    url = hook.feed("waited")
    r = requests.post(url + "?wait=60", data=b"", timeout=90)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "succeeded" and r.json()["records"] == 1
    _, rows = hook.ws.local.query("SELECT payload FROM waited")
    assert json.loads(rows[0][0]) is None  # no body: payload None
    assert requests.post(url + "?wait=soon", timeout=10).status_code == 400


def test_missing_wrong_or_unknown_token_all_get_the_same_401(hook: Hook) -> None:
    url = hook.feed("guarded")
    token = hook.ws.feeds.state("guarded")["webhook_token"]
    base = hook.server.url
    answers = [
        requests.post(f"{base}/hooks/guarded", json={}, timeout=10),
        requests.post(f"{base}/hooks/guarded/", json={}, timeout=10),
        requests.post(f"{base}/hooks/guarded/{token[:-1]}x", json={}, timeout=10),
        requests.post(f"{base}/hooks/nosuchfeed/{token}", json={}, timeout=10),
        requests.post(f"{base}/hooks/guarded/{token}/runs/1", timeout=10),
        requests.get(f"{base}/hooks/guarded/wrong/runs/1", timeout=10),
    ]
    assert [a.status_code for a in answers[:4]] == [401] * 4
    assert {a.content for a in answers[:4]} == {b'{"error": "unauthorized"}'}
    assert answers[4].status_code == 405 and answers[5].status_code == 401
    assert hook.ws.runs.list("guarded") == []
    assert requests.get(f"{base}/health", timeout=5).json() == {"ok": True}
    assert requests.post(url, timeout=30).status_code == 202


def test_regenerating_the_token_invalidates_the_old_url(hook: Hook) -> None:
    old = hook.feed("rotated")
    new_token = keys.regenerate_token(hook.ws, "rotated")
    assert requests.post(old, timeout=10).status_code == 401
    assert hook.url("rotated").endswith(new_token)
    assert requests.post(hook.url("rotated") + "?wait=60", timeout=90).status_code == 200


def test_malformed_json_is_400_and_oversized_body_is_413(hook: Hook) -> None:
    url = hook.feed("strict")
    path = url.removeprefix(hook.server.url)
    r = requests.post(url, data=b'{"open": ', headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    # judged from Content-Length before reading: the server answers without waiting for the body
    code, body = raw_post(hook, path, f"Content-Length: {MAX_BODY + 1}\r\n")
    assert code == 413 and str(MAX_BODY) in json.loads(body)["error"]
    code, _ = raw_post(hook, path, "Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n")
    assert code == 411
    code, _ = raw_post(hook, path, "Content-Length: 10\r\n", b'{"a"', end=True)
    assert code == 400  # the body ended early
    assert hook.ws.runs.list("strict") == []


def test_paused_feed_answers_409_and_records_the_refusal(hook: Hook) -> None:
    url = hook.feed("sleeper")
    hook.ws.feeds.set_paused("sleeper", True)
    r = requests.post(url, json={"x": 1}, timeout=10)
    assert r.status_code == 409 and "paused" in r.json()["error"]
    [skipped] = hook.ws.runs.list("sleeper")
    assert skipped.status == "skipped" and skipped.trigger == "webhook" and "paused" in skipped.error
    hook.ws.feeds.set_paused("sleeper", False)
    assert requests.post(url + "?wait=60", timeout=90).status_code == 200


def test_a_busy_feed_answers_409_and_records_a_skipped_run(hook: Hook) -> None:
    url = hook.feed("busy", sleep=2.0)
    first = requests.post(url, timeout=30).json()
    second = requests.post(url, json={"again": True}, timeout=30)
    assert second.status_code == 409 and f"run #{first['run_id']}" in second.json()["error"]
    skipped = hook.ws.runs.get(second.json()["skipped_run_id"])
    assert skipped.status == "skipped" and skipped.trigger == "webhook"
    assert hook.wait_run(first["status_url"])["status"] == "succeeded"
    other = hook.feed("bystander")
    status_of_busy = first["status_url"].replace(url, other)
    assert requests.get(status_of_busy, timeout=10).status_code == 404  # another feed's token


def test_hmac_signature_is_required_when_the_trigger_asks(hook: Hook) -> None:
    url = hook.feed("signed", hmac=True)
    body = json.dumps({"ref": "v1"}).encode()
    r = requests.post(url, data=body, timeout=10)
    assert r.status_code == 409 and "--hmac-secret" in r.json()["error"]
    secret = keys.new_hmac_secret(hook.ws, "signed")
    stored = hook.ws.feeds.state("signed")["webhook_secret"]
    assert secret not in stored and stored.startswith("enc:v1:")  # encrypted at rest
    assert hook.ws.redactor().redact(f"leak {secret}") == "leak ****"
    sig = keys.sign(secret, body)
    for headers in ({}, {"X-Peak-Signature": "sha256=" + "0" * 64},
                    {"X-Peak-Signature": keys.sign(secret, body + b" ")},
                    {"X-Peak-Signature": keys.sign("wrong", body)}):
        bad = requests.post(url, data=body, headers=headers, timeout=10)
        assert bad.status_code == 401 and "X-Peak-Signature" in bad.json()["error"]
    good = requests.post(url + "?wait=60", data=body, headers={"X-Peak-Signature": sig}, timeout=90)
    assert good.status_code == 200 and good.json()["status"] == "succeeded"
    _, rows = hook.ws.local.query("SELECT payload FROM signed")
    assert json.loads(rows[0][0]) == {"ref": "v1"}
    assert hook.ws.runs.list("signed")[0].status == "succeeded" and len(hook.ws.runs.list("signed")) == 1


def test_cli_feed_webhook_shows_rotates_and_makes_the_hmac_secret(
        hook: Hook, capsys: pytest.CaptureFixture[str]) -> None:
    from peak_tui.cli import main

    hook.feed("cli_hooked", hmac=True)
    home = ["--home", str(hook.ws.home)]
    assert main([*home, "feed", "webhook", "cli_hooked", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    token = hook.ws.feeds.state("cli_hooked")["webhook_token"]
    assert shown["url"].endswith(f"/hooks/cli_hooked/{token}") and "hmac_secret" not in shown
    assert shown["hmac"] is True and shown["hmac_secret_set"] is False
    assert main([*home, "feed", "webhook", "cli_hooked", "--regenerate", "--hmac-secret"]) == 0
    out, err = capsys.readouterr()
    new_token = hook.ws.feeds.state("cli_hooked")["webhook_token"]
    assert new_token != token and out.strip().endswith(new_token) and "old URL no longer works" in err
    secret = keys.hmac_secret(hook.ws, "cli_hooked")
    assert secret and "HMAC secret (shown only now" in err and secret in err
    assert main([*home, "feed", "webhook", "cli_hooked"]) == 0
    out, err = capsys.readouterr()
    assert secret not in out + err  # shown once only
    hook.ws.feeds.save(Feed(name="plain", connection="local", script="x = 1\n"), create=True)
    assert main([*home, "feed", "webhook", "plain"]) == 2
    assert "not webhook" in capsys.readouterr().err
