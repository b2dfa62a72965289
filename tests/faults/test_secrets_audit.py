"""Secrets audit: a full scenario with known secrets, then every stored byte and every printed line is scanned.

Connections of every auth type (basic; custom with a header and JSON body fields; the token the demo
API issues) feed scripts that print the secrets in many encodings, fail with them in tracebacks, and
(in Test only) put them in records. Then all CLI output and every file under the workspace (peak.db
and its WAL, the warehouse, envs/, staging/, tmp/, locks/) must hold no secret in any form.

Decisions this test pins down:
- Records and metadata are data: stored exactly as the script wrote them (metadata must round-trip
  to the next run), never redacted at rest. So the scenario's scripts keep secrets out of records
  and metadata, except in Test previews, which are not stored and are masked on output. That lets
  the scan cover the warehouse and peak.db raw, with no exclusions.
- Where metadata does hold a secret (test_secret_in_metadata_...), it is stored verbatim but masked
  wherever it is shown: `feed show`, `feed test`, `runs --json`, `feed run --json`, the run log.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from peak_tui.demo_api import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_PASSWORD, DemoAPI
from peak_tui.demo_setup import install_demo
from peak_tui.models import Feed
from peak_tui.workspace import Workspace

from .secret_forms import Probe, find_leaks, probes_for
from .support import HoldingServer, run_cli, run_cli_batch

LEAK_BASIC = """\
import base64, json, sys, urllib.parse
from lib import outputStream, metadata, connection
pw = connection.password
print("password:", pw, "repr:", repr(pw))
print("pair b64:", base64.b64encode(f"{connection.username}:{pw}".encode()).decode())
print("b64:", base64.b64encode(pw.encode()).decode(), base64.b64encode(b"x" + pw.encode()).decode())
print("urlsafe:", base64.urlsafe_b64encode(b"xy" + pw.encode()).decode())
print("quoted:", urllib.parse.quote(pw), urllib.parse.quote_plus(pw), urllib.parse.quote(pw, safe=""))
print("json:", json.dumps({"password": pw}), json.dumps({"password": pw}, ensure_ascii=False))
print("stderr:", pw, file=sys.stderr)
print("x" * 65526 + pw + "y" * 10)  # the old 64 KB read boundary falls inside the secret
outputStream.write({"id": 1, "note": "records carry no secrets"})
metadata.save({"cursor": 1})
"""
FAIL_BASIC = """\
from lib import connection
try:
    {}["missing"]
except KeyError:
    raise ValueError("login failed for " + connection.username + ":" + connection.password)
"""
LEAK_CUSTOM = """\
import base64, json, requests
from lib import outputStream, metadata, connection
print("headers:", connection.headers)
print("token:", connection.token, "b64:", base64.b64encode(connection.token.encode()).decode())
print("auth response:", json.dumps(connection.auth_response))
r = requests.get("{base}/api/token/invoices", params={{"per_page": 5}}, headers=connection.headers)
r.raise_for_status()
print("request headers:", dict(r.request.headers))
for row in r.json()["data"]:
    outputStream.write(row)
metadata.save({{"page": 1}})
"""
FAIL_CUSTOM = "from lib import connection\nraise ValueError(connection.token)\n"
PREVIEW_CUSTOM = ("from lib import outputStream, connection\n"
                  "outputStream.write({'token': connection.token, 'auth': connection.headers})\n")
PREVIEW_BASIC = ("import base64\nfrom lib import outputStream, connection\n"
                 "pair = f'{connection.username}:{connection.password}'.encode()\n"
                 "outputStream.write({'pw': connection.password, 'pair': base64.b64encode(pair).decode()})\n")


def _secret(prefix: str, tail: str) -> tuple[str, str]:
    """A secret and its random core: quotes, slashes, + and non-ASCII make every encoding differ."""
    core = secrets.token_hex(12)
    return f"{prefix}-{core}{tail}", core


def test_no_secret_is_stored_or_printed_in_any_form(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    password, pw_core = _secret("pw/", '+ä "q"&=')
    header, hdr_core = _secret("hdr", "/x+y")
    body_field, body_core = _secret("body", '"é\\')
    echo_secret, echo_core = _secret("echo", "ü?")
    bad_body, bad_core = _secret("bad", "")
    home = tmp_path / "ws"
    outputs: list[tuple[str, str]] = []
    api = DemoAPI().start()
    echo = HoldingServer(lambda method, path, body: (400, {"error": "invalid_request",
                                                           "received": json.loads(body)}))
    echo.release()
    try:
        env = {"HDR": header, "BODY": json.dumps({"client_id": DEMO_CLIENT_ID, "client_secret":
                                                   DEMO_CLIENT_SECRET, "audit_field": body_field}),
               "ECHO": json.dumps({"client_secret": echo_secret}),
               "BAD": '{"client_secret": "' + bad_body + '", }'}
        r = run_cli(home, "connection", "add", "basicx", "--auth", "basic", "--username", "auditor",
                    "--password-stdin", input=password + "\n")
        outputs.append(("connection add basicx", r.stdout + r.stderr))
        assert r.returncode == 0, r.stdout + r.stderr
        adds, batch_err = run_cli_batch(home, [
            "connection", "add", "customx", "--auth", "custom", "--auth-url", f"{api.url}/auth/token",
            "--header-env", "X-Api-Key=HDR", "--body-env", "BODY"], [
            "connection", "add", "echoauth", "--auth", "custom", "--auth-url", f"{echo.url}/token",
            "--header-env", "X-Api-Key=HDR", "--body-env", "ECHO"], [
            "connection", "add", "badbody", "--auth", "custom", "--auth-url", f"{api.url}/x",
            "--body-env", "BAD"], env=env)
        outputs += [(" ".join(a[2:]), o + e) for a, _, o, e in adds] + [("batch", batch_err)]
        assert [c for _, c, _, _ in adds] == [0, 0, 2], adds
        assert "connection.body: must be valid JSON" in adds[2][3]
        ws = Workspace.open(home)
        install_demo(ws, api.url)
        feeds = {"leak_basic": ("basicx", LEAK_BASIC), "fail_basic": ("basicx", FAIL_BASIC),
                 "leak_custom": ("customx", LEAK_CUSTOM.format(base=api.url)),
                 "fail_custom": ("customx", FAIL_CUSTOM), "echo_feed": ("echoauth", FAIL_CUSTOM),
                 "preview_custom": ("customx", PREVIEW_CUSTOM),
                 "preview_basic": ("basicx", PREVIEW_BASIC)}
        for name, (conn, script) in feeds.items():
            ws.feeds.save(Feed(name=name, connection=conn, script=script))
        runnable = ["demo_orders", "demo_customers", "demo_invoices", "leak_basic", "fail_basic",
                    "leak_custom", "fail_custom", "echo_feed"]
        for name in ("leak_basic", "demo_invoices"):  # real processes, logs streamed to stderr
            r = run_cli(home, "feed", "run", name)
            outputs.append((f"feed run {name}", r.stdout + r.stderr))
            assert r.returncode == 0, r.stdout + r.stderr
        commands = [["feed", "run", n] for n in runnable if n not in ("leak_basic", "demo_invoices")]
        commands += [["feed", "run", "leak_basic", "--json"]]
        commands += [["feed", "test", n, "--json"] for n in feeds] + [["feed", "test", "preview_basic"]]
        commands += [["feed", "export", n] for n in feeds] + [["feed", "show", n, "--json"] for n in feeds]
        commands += [["feed", "show", "leak_basic"], ["feed", "list", "--json"], ["runs", "--json"],
                     ["runs"], ["connection", "list", "--json"], ["connection", "list"]]
        commands += [["connection", "show", c, "--json"] for c in ("basicx", "customx", "echoauth",
                                                                  "demobasic", "democustom")]
        commands += [["connection", "show", "customx"]]
        results, batch_err = run_cli_batch(home, *commands)
        outputs.append(("batch process stderr", batch_err))
        run_ids = []
        for argv, _code, out, err in results:
            outputs.append((" ".join(argv[2:]), out + err))
            if argv[2:4] == ["runs", "--json"]:
                run_ids = [r["id"] for r in json.loads(out)]
        by_cmd = {" ".join(a[2:]): (c, o, e) for a, c, o, e in results}
        _check_expected_behaviour(by_cmd, ws)
        logs, _ = run_cli_batch(home, *[["logs", str(i)] for i in run_ids])
        outputs += [(f"logs {a[-1]}", o + e) for a, _, o, e in logs]
        assert len(run_ids) == len(runnable) + 1 and all(c == 0 for _, c, _, _ in logs)
        tokens = sorted(api._server.tokens)
        assert len(tokens) >= 4, "the demo API issued fewer tokens than custom-auth runs"
        probes = probes_for({"password": (password, pw_core), "header": (header, hdr_core),
                             "body field": (body_field, body_core), "echoed": (echo_secret, echo_core),
                             "bad body": (bad_body, bad_core),
                             "demo password": (DEMO_PASSWORD, None),
                             "demo client secret": (DEMO_CLIENT_SECRET, None),
                             "demo client id": (DEMO_CLIENT_ID, None),
                             **{f"token {i}": (t, None) for i, t in enumerate(tokens)}},
                            basic_pairs=[("auditor", password), ("demo", DEMO_PASSWORD)])
        _scanner_can_fail(probes, password, tokens[0])
        found = _scan_outputs(outputs, probes) + _scan_tree(home, probes)
        ws.close()
        found += _scan_tree(home, probes)  # again, once every connection is closed
        assert found == [], "secrets leaked:\n" + "\n".join(found[:40])
    finally:
        api.stop()
        echo.close()


def _check_expected_behaviour(by_cmd: dict[str, tuple[int, str, str]], ws: Workspace) -> None:
    """The scenario did what it claims: scripts failed where meant to, previews were masked."""
    assert by_cmd["feed run fail_basic"][0] == 1 and by_cmd["feed run fail_custom"][0] == 1
    echo_code, echo_out, _ = by_cmd["feed run echo_feed"]
    assert echo_code == 1
    assert 'returned HTTP 400: {"error": "invalid_request", "received": {"client_secret": "****"}}' \
        in echo_out
    fail = json.loads(by_cmd["feed test fail_custom --json"][1])
    assert fail["error"] == "ValueError: ****" and "raise ValueError(connection.token)" in fail["traceback"]
    preview = json.loads(by_cmd["feed test preview_custom --json"][1])
    assert preview["records"] == [{"token": "****", "auth": {"Authorization": "Bearer ****"}}]
    basic = json.loads(by_cmd["feed test preview_basic --json"][1])
    assert basic["records"] == [{"pw": "****", "pair": "****"}]
    leak = ws.runs.logs(ws.runs.list("leak_basic", limit=2)[-1].id)
    assert "password: **** repr: '****'" in leak and "stderr: ****" in leak
    assert "x" * 100 + "****" + "y" * 10 in leak  # the long line is masked whole
    assert json.loads(by_cmd["connection show customx --json"][1])["headers"] == {"X-Api-Key": "****"}


def _scanner_can_fail(probes: list[Probe], password: str, token: str) -> None:
    """The probes do find each kind of leak the scenario provokes (else a clean scan proves nothing)."""
    samples = [password.encode(), json.dumps({"p": password}).encode(),
               quote_plus(password).encode(), b"Basic " + base64.b64encode(b"auditor:" + password.encode()),
               base64.b64encode(b"\0" + password.encode()), b"x" * 70000 + password.encode(),
               b"Bearer " + token.encode(), base64.urlsafe_b64encode(b"ab" + token.encode())]
    for sample in samples:
        assert find_leaks(sample, probes), sample[-80:]
    assert find_leaks(b"pw: " + password.split("-")[1][:24].encode(), probes)  # its core alone
    assert not find_leaks(b"****" + b"demo" * 100, probes)


def _scan_outputs(outputs: list[tuple[str, str]], probes: list[Probe]) -> list[str]:
    found = []
    for where, text in outputs:
        found += [f"{hit} in the output of `{where}`" for hit in find_leaks(text.encode(), probes)]
    return found


def _scan_tree(root: Path, probes: list[Probe]) -> list[str]:
    found = []
    count = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            count += 1
            found += [f"{hit} in {path.relative_to(root)}" for hit in find_leaks(path.read_bytes(),
                                                                                probes)]
    assert count > 100 and (root / "peak.db").exists() and (root / "warehouse" / "local.db").exists()
    return found
