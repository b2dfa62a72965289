"""Watchers against a real SMTP server (aiosmtpd) and a real HTTP receiver: events, templates,
retries with backoff, runtime_exceeded while the run is still going, and logging on the run."""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from peak_tui import notify, watchers
from peak_tui.errors import ValidationError
from peak_tui.execution import run_feed
from peak_tui.models import Connection, Feed
from peak_tui.notify_settings import SmtpSettings, clear_smtp, load_smtp, save_smtp
from peak_tui.workspace import Workspace

OK_SCRIPT = """import time
from lib import outputStream
time.sleep(SLEEP)
for i in range(3):
    outputStream.write({"id": i})
"""
WAIT_SCRIPT = """import os
import time
from lib import outputStream
for _ in range(600):  # until the test says the run may end (at most 60 s)
    if os.path.exists(FLAG):
        break
    time.sleep(0.05)
outputStream.write({"id": 1})
"""
BAD_SCRIPT = """raise RuntimeError('bad "quote" and \\\\ backslash')\n"""
SMTP_USER, SMTP_PASSWORD = "mailer", "s3cret-smtp-pass"


# ------------------------------------------------------------------------------- receivers
class _SMTP(Controller):
    """aiosmtpd's Controller on port 0 (it checks readiness on the configured port)."""

    def _trigger_server(self) -> None:
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        self.arrived.set()
        return "250 OK"


def _login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(
                "127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class Receiver:
    """An HTTP endpoint that answers with queued status codes (then 200) and records each call."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.codes = list(codes or [])
        self.calls: list[tuple[float, dict[str, Any]]] = []
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append((time.monotonic(), json.loads(body)))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if code == 200:
                    outer.got.set()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/T000/B000/xyzSECRET"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def shared_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """One workspace (and feed environment) for the module; each test uses its own feeds."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PEAK_TUI_KEYRING", "0")
        w = Workspace.open(tmp_path_factory.mktemp("watchers") / "ws")
        w.connections.add(Connection(name="local", auth_type="none"))
        w.envs.ensure([])
        yield w


@pytest.fixture
def ws(shared_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    monkeypatch.setattr(notify, "RETRY_DELAYS", (0.1, 0.2, 0.4))
    return shared_ws


def add_feed(ws: Workspace, name: str, watchers_: list[dict[str, Any]], script: str = OK_SCRIPT,
             sleep: float = 0.0) -> None:
    ws.feeds.save(Feed(name=name, connection="local", script=script.replace("SLEEP", str(sleep)),
                       watchers=watchers_), create=True)


def run_and_settle(ws: Workspace, name: str) -> Any:
    run = run_feed(ws, name)
    assert watchers.wait_idle(30)
    return run


# -------------------------------------------------------------------------------- templates
def test_template_escapes_values_inside_strings_and_types_them_outside() -> None:
    fields = {"feed": "orders", "status": "failed", "records": 0, "error": 'bad "x"\n\\ end',
              "duration": 1.5, "run_id": 7}
    out = json.loads(notify.render_payload(
        '{"text": "{feed} {status}: {error}", "n": {records}, "d": {duration}, "e": {error}, '
        '"literal": "{not_a_field} \\"{feed}\\""}', fields))
    assert out == {"text": 'orders failed: bad "x"\n\\ end', "n": 0, "d": 1.5, "e": 'bad "x"\n\\ end',
                   "literal": '{not_a_field} "orders"'}
    default = json.loads(notify.render_payload(None, fields))
    assert default["feed"] == "orders" and default["text"].startswith("orders: run #7 failed")
    with pytest.raises(notify.DeliveryError, match="not valid JSON") as e:
        notify.render_payload('{"text": {feed} {status}}', fields)
    assert not e.value.retry
    notify.validate_template('{"text": "{feed} {status}", "n": {records}}', "feed.watchers[0].payload")
    with pytest.raises(ValidationError, match=r"feed.watchers\[0\].payload: unknown placeholder \{stauts\}"):
        notify.validate_template('{"text": "{stauts}"}', "feed.watchers[0].payload")
    with pytest.raises(ValidationError, match="not valid JSON"):
        notify.validate_template('{"n": {records}', "feed.watchers[0].payload")


# ------------------------------------------------------------------------------------ email
def test_email_on_success_through_smtp_with_login(ws: Workspace) -> None:
    inbox = Inbox()
    smtp = _SMTP(inbox, hostname="127.0.0.1", port=0, authenticator=_login, auth_require_tls=False)
    smtp.start()
    try:
        save_smtp(ws, SmtpSettings(host="127.0.0.1", port=smtp.port, username=SMTP_USER,
                                   password=SMTP_PASSWORD, from_addr="peak@example.com",
                                   security="none"))
        assert SMTP_PASSWORD not in json.dumps(ws.store.get_setting("smtp"))  # encrypted at rest
        assert load_smtp(ws).password == SMTP_PASSWORD
        assert ws.redactor().redact(f"pw={SMTP_PASSWORD}") == "pw=****"
        add_feed(ws, "mailed", [{"events": ["success"], "channel": "email",
                                 "to": ["ops@example.com", "lead@example.com"]}])
        run = run_and_settle(ws, "mailed")
        assert run.status == "succeeded"
        [msg] = inbox.messages
        assert msg["To"] == "ops@example.com, lead@example.com" and msg["From"] == "peak@example.com"
        assert f"mailed: run #{run.id} succeeded, 3 records" in msg["Subject"]
        assert "records: 3" in msg.get_payload()
        assert "email watcher (ops@example.com, lead@example.com): success notification delivered" \
            in ws.runs.logs(run.id)
        save_smtp(ws, SmtpSettings(host="127.0.0.1", port=smtp.port, username=SMTP_USER,
                                   password="wrong-password", from_addr="peak@example.com",
                                   security="none"))
        run = run_and_settle(ws, "mailed")
        log = ws.runs.logs(run.id)
        assert "NOT delivered: the SMTP server refused the login" in log and "retrying" not in log
        assert run.status == "succeeded" and len(inbox.messages) == 1
    finally:
        smtp.stop()


def test_cli_smtp_set_show_and_test(ws: Workspace, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from peak_tui.cli import main

    inbox = Inbox()
    smtp = _SMTP(inbox, hostname="127.0.0.1", port=0, authenticator=_login, auth_require_tls=False)
    smtp.start()
    try:
        home = ["--home", str(ws.home)]
        monkeypatch.setattr("sys.stdin", io.StringIO(SMTP_PASSWORD + "\n"))
        assert main([*home, "smtp", "set", "--host", "127.0.0.1", "--port", str(smtp.port),
                     "--username", SMTP_USER, "--password-stdin", "--from", "peak@example.com",
                     "--security", "none"]) == 0
        assert main([*home, "smtp", "show", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
        assert shown["password"] == "****" and shown["port"] == smtp.port
        assert main([*home, "smtp", "set", "--from", "alerts@example.com"]) == 0  # keeps the rest
        assert load_smtp(ws).password == SMTP_PASSWORD
        assert main([*home, "smtp", "test", "--to", "me@example.com"]) == 0
        assert inbox.messages[-1]["To"] == "me@example.com"
        assert inbox.messages[-1]["From"] == "alerts@example.com"
        assert main([*home, "smtp", "set", "--security", "tls"]) == 0
        assert load_smtp(ws).port == smtp.port  # an explicit port is kept
        assert main([*home, "smtp", "set", "--port", "70000"]) == 2
        assert "smtp.port" in capsys.readouterr().err
    finally:
        smtp.stop()


def test_email_over_starttls_verifies_the_server(ws: Workspace, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts our test CA only
    inbox = Inbox()
    smtp = _SMTP(inbox, hostname="127.0.0.1", port=0, tls_context=server_ctx, require_starttls=True,
                 authenticator=_login)
    smtp.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=smtp.port, username=SMTP_USER,
                                password=SMTP_PASSWORD, from_addr="peak@example.com",
                                security="starttls")
        assert "sent to" in notify.send_email(settings, ["a@example.com"], "hello", "body")
        assert inbox.messages[0]["Subject"] == "hello"
        settings.security = "none"  # the server insists on STARTTLS: refused, not sent in clear
        with pytest.raises(notify.DeliveryError):
            notify.send_email(settings, ["a@example.com"], "clear", "body")
        assert len(inbox.messages) == 1
    finally:
        smtp.stop()


def test_email_without_smtp_settings_is_logged_not_retried(ws: Workspace) -> None:
    clear_smtp(ws)
    add_feed(ws, "nomail", [{"events": ["success"], "channel": "email", "to": ["a@example.com"]}])
    run = run_and_settle(ws, "nomail")
    assert run.status == "succeeded"
    assert "NOT delivered: SMTP is not set up" in ws.runs.logs(run.id)


# ---------------------------------------------------------------------------------- webhook
def test_failure_webhook_fills_the_template(ws: Workspace, receiver: Receiver) -> None:
    add_feed(ws, "broken", [{"events": ["failure"], "channel": "webhook", "name": "ops",
                             "url": receiver.url,
                             "payload": '{"text": "{feed} {status}", "err": "{error}", '
                                        '"records": {records}, "run": {run_id}}'}],
             script=BAD_SCRIPT)
    run = run_and_settle(ws, "broken")
    assert run.status == "failed"
    [(_, body)] = receiver.calls
    assert body["text"] == "broken failed" and body["records"] == 0 and body["run"] == run.id
    assert 'bad "quote" and \\ backslash' in body["err"]
    log = ws.runs.logs(run.id)
    assert "webhook watcher 'ops' (http://127.0.0.1:" in log and "delivered: HTTP 200" in log
    assert "xyzSECRET" not in log  # the URL's path (often a secret) is never logged


def test_webhook_retries_with_backoff_then_succeeds(ws: Workspace) -> None:
    flaky = Receiver([500, 503])
    try:
        add_feed(ws, "retried", [{"events": ["success"], "channel": "webhook", "name": "flaky",
                                  "url": flaky.url}])
        run = run_and_settle(ws, "retried")
        times = [t for t, _ in flaky.calls]
        assert len(times) == 3
        assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2  # backoff grew
        log = ws.runs.logs(run.id)
        assert "attempt 1 failed (HTTP 500); retrying in 0.1 s" in log
        assert "attempt 2 failed (HTTP 503); retrying in 0.2 s" in log
        assert "success notification delivered: HTTP 200" in log
        assert flaky.calls[0][1] == flaky.calls[2][1]  # the same payload each time
    finally:
        flaky.close()


def test_webhook_that_keeps_failing_never_fails_the_run(ws: Workspace) -> None:
    down = Receiver([500, 500, 500, 500, 500])
    try:
        add_feed(ws, "unlucky", [{"events": ["success", "failure"], "channel": "webhook",
                                  "name": "down", "url": down.url}])
        run = run_and_settle(ws, "unlucky")
        assert run.status == "succeeded" and len(down.calls) == 4  # 1 + len(RETRY_DELAYS)
        assert "NOT delivered: HTTP 500 (after 4 attempts)" in ws.runs.logs(run.id)
    finally:
        down.close()


# ------------------------------------------------------------------------- runtime exceeded
def test_runtime_exceeded_fires_while_the_run_is_still_going(
        ws: Workspace, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(watchers, "SECONDS_PER_MINUTE", 0.5)  # runtime_minutes=1 -> 0.5 s
    flag = tmp_path / "may-end"
    add_feed(ws, "slow", [{"events": ["runtime_exceeded"], "runtime_minutes": 1, "channel": "webhook",
                           "name": "pager", "url": receiver.url}],
             script=WAIT_SCRIPT.replace("FLAG", repr(str(flag))))
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(run=run_feed(ws, "slow")))
    worker.start()
    assert receiver.got.wait(30), "no runtime_exceeded notification"
    assert worker.is_alive()  # the run is still going
    [(_, body)] = receiver.calls
    assert body["event"] == "runtime_exceeded" and body["status"] == "running"
    assert body["runtime_minutes"] == 1 and body["duration"] >= 0.5
    flag.touch()
    worker.join(60)
    assert watchers.wait_idle(30)
    run = result["run"]
    assert run.status == "succeeded" and len(receiver.calls) == 1
    log = ws.runs.logs(run.id)
    assert "runtime_exceeded notification delivered" in log and "duration" in log


def test_runtime_timer_is_cancelled_when_the_run_ends_first(ws: Workspace, receiver: Receiver,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchers, "SECONDS_PER_MINUTE", 30.0)
    add_feed(ws, "quick", [{"events": ["runtime_exceeded"], "runtime_minutes": 1, "channel": "webhook",
                            "name": "pager", "url": receiver.url}])
    run = run_and_settle(ws, "quick")
    timers = [t for t in threading.enumerate() if t.name == f"peak-watch-{run.id}"]
    for t in timers:
        t.join(5)
    assert not any(t.is_alive() for t in timers) and run.id not in watchers._live
    assert receiver.calls == []
