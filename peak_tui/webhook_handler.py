"""The webhook endpoint's request handler: routes, token and signature checks, bounded bodies.

See ``peak_tui.webhook`` for the answers it gives.
"""
from __future__ import annotations

import hmac
import json
import logging
import uuid
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from peak_tui.errors import NotFound
from peak_tui.store import loads
from peak_tui.webhook_keys import SIGNATURE_HEADER, hook_path, signature_ok

if TYPE_CHECKING:
    from peak_tui.models import Run
    from peak_tui.webhook import _Server

log = logging.getLogger("peak_tui.daemon")
MAX_BODY = 1 << 20
MAX_WAIT = 600.0
START_WAIT = 10.0  # how long a POST waits for a run to start when a worker is free
UNAUTHORIZED = {"error": "unauthorized"}
_DUMMY_TOKEN = "x" * 43


def run_view(run: Run) -> dict[str, Any]:
    """What a webhook caller may see of a run (no metadata, no logs)."""
    keys = ("id", "feed", "trigger", "status", "queued_at", "started_at", "ended_at", "records",
            "failed_rows", "error", "catch_up")
    return {**{k: getattr(run, k) for k in keys}, "duration": run.duration}


class WebhookHandler(BaseHTTPRequestHandler):
    """One HTTP request to the daemon."""

    server: _Server
    server_version = "peak-tui"
    sys_version = ""
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client that stalls mid-request is dropped
    # headers and body go out as two writes: with Nagle on, a keep-alive client waits for its
    # delayed ACK (~40 ms) before the body arrives
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        # the path carries the token: log the route shape only
        parts = self.path.split("/")
        shown = "/".join(parts[:3]) + ("/…" if len(parts) > 3 else "")
        log.info("%s %s %s", self.command, shown, args[1] if len(args) > 1 else "")

    def _send(self, code: int, body: dict[str, Any], *, close: bool = False) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if close:  # the request body was not read: the connection cannot be reused
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str, str | None, str | None]:
        """(kind, feed, token, run id) from the path; kind is hooks, health or other."""
        parts = urlsplit(self.path).path.strip("/").split("/")
        if parts == ["health"]:
            return "health", "", None, None
        if not parts or parts[0] != "hooks":
            return "other", "", None, None
        feed = parts[1] if len(parts) > 1 else ""
        token = parts[2] if len(parts) > 2 and parts[2] else None
        run_id = parts[4] if len(parts) == 5 and parts[3] == "runs" else None
        if len(parts) > 3 and run_id is None:
            return "other", "", None, None
        return "hooks", feed, token, run_id

    def _authorize(self, feed: str, token: str | None) -> dict[str, Any] | None:
        """The feed row if the token is its webhook token; compared in constant time."""
        ws = self.server.hook.ws
        row = ws.store.query_one(
            "SELECT name, config, paused, webhook_token, webhook_secret FROM feeds WHERE name=?",
            (feed,)) if feed else None
        expected = (row or {}).get("webhook_token") or _DUMMY_TOKEN
        ok = hmac.compare_digest(expected.encode(), (token or "").encode())
        return row if ok and row is not None and row["webhook_token"] else None

    # ------------------------------------------------------------------------------ GET
    def do_GET(self) -> None:
        kind, feed, token, run_id = self._route()
        if kind == "health":
            self._send(200, {"ok": True})
            return
        if kind == "other":
            self._send(404, {"error": "not found"})
            return
        row = self._authorize(feed, token)
        if row is None:
            self._send(401, UNAUTHORIZED)
            return
        if run_id is None:
            self._send(405, {"error": "POST to this URL to run the feed"})
            return
        try:
            run = self.server.hook.ws.runs.get(int(run_id))
        except (ValueError, NotFound):
            run = None
        if run is None or run.feed != feed:
            self._send(404, {"error": f"feed {feed} has no run {run_id}"})
            return
        self._send(200, run_view(run))

    # ----------------------------------------------------------------------------- POST
    def do_POST(self) -> None:
        kind, feed, token, run_id = self._route()
        if kind != "hooks":
            self._send(404, {"error": "not found"}, close=True)
            return
        if run_id is not None:
            self._send(405, {"error": "GET this URL to read the run; POST to the feed's webhook URL "
                                      "to run it"}, close=True)
            return
        row = self._authorize(feed, token)
        if row is None:
            self._send(401, UNAUTHORIZED, close=True)
            return
        trigger = loads(row["config"], {}).get("trigger") or {}
        if trigger.get("type") != "webhook":
            self._send(409, {"error": f"feed {feed} is not triggered by webhook (its trigger is "
                             f"{trigger.get('type', 'manual')})"}, close=True)
            return
        body = self._read_body()
        if body is None:
            return
        if trigger.get("hmac"):
            secret = self._secret(row)
            if secret is None:
                self._send(409, {"error": f"feed {feed} requires an HMAC signature but has no secret "
                                 f"yet; create one with: peak-tui feed webhook {feed} --hmac-secret"})
                return
            if not signature_ok(secret, body, self.headers.get(SIGNATURE_HEADER)):
                self._send(401, {"error": f"missing or wrong {SIGNATURE_HEADER} (expected "
                                 "sha256=<hex HMAC-SHA256 of the raw body>)"})
                return
        payload = None
        if body.strip():
            try:
                payload = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                self._send(400, {"error": f"the body is not valid JSON: {e}"})
                return
            except RecursionError:
                self._send(400, {"error": "the body is not valid JSON: it is nested too deeply"})
                return
        self._run(row, token or "", payload)

    # --------------------------------------------------------------------- other methods
    def _not_allowed(self) -> None:
        self.send_response(405)
        data = json.dumps({"error": f"method {self.command} is not allowed: POST to a webhook URL "
                                    "runs its feed, GET its runs/<id> reads a run"}).encode()
        self.send_header("Allow", "GET, POST")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")  # a body it may have sent is not read
        self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _not_allowed

    def _read_body(self) -> bytes | None:
        """The raw body, bounded by MAX_BODY; sends the error and returns None when refused."""
        if self.headers.get("Transfer-Encoding"):
            self._send(411, {"error": "send the body with a Content-Length (no chunked encoding)"},
                       close=True)
            return None
        text = self.headers.get("Content-Length", "0").strip() or "0"
        if not text.isdigit():
            self._send(400, {"error": "Content-Length must be a whole number"}, close=True)
            return None
        length = int(text)
        if length > MAX_BODY:
            self._send(413, {"error": f"the body is {length} bytes; the limit is {MAX_BODY} bytes"},
                       close=True)
            return None
        chunks, got = [], 0
        while got < length:
            chunk = self.rfile.read(min(65536, length - got, MAX_BODY + 1 - got))
            if not chunk:
                self._send(400, {"error": "the body ended before Content-Length bytes"}, close=True)
                return None
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _secret(self, row: dict[str, Any]) -> str | None:
        enc = row["webhook_secret"]
        return self.server.hook.ws.box.decrypt(enc) if enc else None

    def _run(self, row: dict[str, Any], token: str, payload: Any) -> None:
        hook = self.server.hook
        feed = row["name"]
        if row["paused"]:
            hook.ws.runs.record_skipped(feed, "webhook", "webhook call refused: the feed is paused",
                                        uuid.uuid4().hex)
            self._send(409, {"error": f"feed {feed} is paused; resume it to accept webhook runs"})
            return
        wait = self._wait_param()
        if wait is None:
            self._send(400, {"error": f"wait must be a number of seconds (at most {MAX_WAIT:.0f})"})
            return
        # the run is recorded as queued at once: a caller never waits for a busy worker
        sub = hook.dispatcher.submit(feed, "webhook", payload=payload, reserve=True)
        if sub.immediate:  # a worker is free: the run starts in a moment
            sub.started.wait(START_WAIT)
        if wait > 0 and not sub.skipped:
            sub.done.wait(wait)
        if sub.skipped:
            self._send(409, {"error": sub.skipped, "skipped_run_id": sub.run_id})
            return
        if sub.error and (sub.run_id is None or sub.done.is_set()):
            self._send(500, {"error": f"the run could not start: {sub.error}"})
            return
        base = hook.public_url or f"http://{self.headers.get('Host') or hook.url.split('//')[1]}"
        status_url = f"{base}{hook_path(feed, token)}/runs/{sub.run_id}"
        if wait > 0 and sub.done.is_set() and sub.run is not None:
            self._send(200, {**run_view(sub.run), "run_id": sub.run_id, "status_url": status_url})
            return
        if not sub.started.is_set():
            self._send(202, {"feed": feed, "run_id": sub.run_id, "status": "queued",
                             "status_url": status_url,
                             "message": "every worker is busy; the run starts when one is free"})
            return
        self._send(202, {"feed": feed, "run_id": sub.run_id, "status": "running",
                         "status_url": status_url})

    def _wait_param(self) -> float | None:
        values = parse_qs(urlsplit(self.path).query).get("wait")
        try:
            wait = float(values[0]) if values else 0.0
        except ValueError:
            return None
        return min(MAX_WAIT, wait) if wait >= 0 else None
