"""The bundled demo REST API: deterministic orders, customers and invoices served on 127.0.0.1.

Stdlib only, so the engine, the demo and the tests can start it anywhere. Endpoints:

- ``GET /health`` -> ``{"ok": true}``
- ``GET /api/orders?updated_since=ISO&page=N&per_page=M`` -> 250 orders, no auth. Rows with
  ``updated_at > updated_since`` (strictly), sorted by ``updated_at`` then ``id``; ``page`` starts
  at 1, ``per_page`` defaults to 50 (max 100). Body: ``{"data", "page", "per_page", "total",
  "next_page"}`` with ``next_page`` null on the last page. Bad parameters -> 400 naming them.
- ``GET /api/basic/customers`` -> ``{"data": [...]}`` (25 customers) behind HTTP Basic auth with
  ``DEMO_USER`` / ``DEMO_PASSWORD``; otherwise 401 with ``WWW-Authenticate``.
- ``POST /auth/token`` with JSON ``{"client_id", "client_secret"}`` (``DEMO_CLIENT_ID`` /
  ``DEMO_CLIENT_SECRET``) -> ``{"access_token", "token_type": "Bearer", "expires_in": 3600}``;
  wrong credentials -> 401 ``{"error": "invalid_client"}``; malformed JSON -> 400.
- ``GET /api/token/invoices?updated_since=&page=&per_page=`` -> 120 invoices, paginated like
  orders, requiring ``Authorization: Bearer <token>`` issued by this server instance (else 401).

Knobs for testing the engine:

- ``fail_after=K`` on ``/api/orders`` makes every page number greater than K answer 500.
- ``GET /api/slow?ms=N`` sleeps N milliseconds (capped at 10000) and returns ``{"ok": true}``.
"""
from __future__ import annotations

import base64
import json
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from peak_tui.demo.data import (
    CUSTOMERS,
    INVOICES,
    ORDERS,
    BadParameter,
    customers_total,
    int_param,
    invoices_total,
    orders_total,
    paginate,
)

__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "DEMO_PASSWORD", "DEMO_USER", "DemoAPI",
           "customers_total", "invoices_total", "orders_total", "serve_forever"]

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-pass"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-secret"
TOKEN_TTL_SECONDS = 3600
MAX_SLOW_MS = 10_000
_NO_LIMIT = 1_000_000


class _Server(ThreadingHTTPServer):
    """The HTTP server plus the bearer tokens it has issued (token -> expiry, monotonic clock)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.tokens: dict[str, float] = {}
        self.tokens_lock = threading.Lock()

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self.tokens_lock:
            self.tokens[token] = time.monotonic() + TOKEN_TTL_SECONDS
        return token

    def token_valid(self, token: str) -> bool:
        with self.tokens_lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry


class _Handler(BaseHTTPRequestHandler):
    """Routes the demo endpoints; every answer is JSON."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 30  # an idle keep-alive connection frees its thread after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the demo API must not spam the terminal with one line per request."""

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        """Serve the read endpoints."""
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            if url.path == "/health":
                self._send(200, {"ok": True})
            elif url.path == "/api/orders":
                fail_after = int_param(query, "fail_after", _NO_LIMIT, 0, _NO_LIMIT)
                body = paginate(ORDERS, query)
                if body["page"] > fail_after:
                    self._send(500, {"error": f"simulated failure on page {body['page']}"})
                else:
                    self._send(200, body)
            elif url.path == "/api/basic/customers":
                if self._basic_ok():
                    self._send(200, {"data": CUSTOMERS})
                else:
                    self._send(401, {"error": "invalid or missing basic credentials"},
                               {"WWW-Authenticate": 'Basic realm="peak-tui demo"'})
            elif url.path == "/api/token/invoices":
                if self._bearer_ok():
                    self._send(200, paginate(INVOICES, query))
                else:
                    self._send(401, {"error": "invalid_token"},
                               {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            elif url.path == "/api/slow":
                time.sleep(min(int_param(query, "ms", 0, 0, _NO_LIMIT), MAX_SLOW_MS) / 1000)
                self._send(200, {"ok": True})
            else:
                self._send(404, {"error": f"no such endpoint: {url.path}"})
        except BadParameter as exc:
            self._send(400, {"error": str(exc)})

    def do_POST(self) -> None:
        """Serve ``/auth/token``, the client-credentials exchange."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        raw = self.rfile.read(length) if length > 0 else b""  # drain it to keep the connection sane
        if urlsplit(self.path).path != "/auth/token":
            self._send(404, {"error": f"no such endpoint: {self.path}"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._send(400, {"error": "invalid_request: the body must be a JSON object"})
        elif _same(body.get("client_id"), DEMO_CLIENT_ID) and \
                _same(body.get("client_secret"), DEMO_CLIENT_SECRET):
            self._send(200, {"access_token": self.server.issue_token(), "token_type": "Bearer",
                             "expires_in": TOKEN_TTL_SECONDS})
        else:
            self._send(401, {"error": "invalid_client"})

    def _basic_ok(self) -> bool:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
            return False
        return _same(user, DEMO_USER) and _same(password, DEMO_PASSWORD)

    def _bearer_ok(self) -> bool:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and self.server.token_valid(token.strip())


def _same(given: object, expected: str) -> bool:
    """Constant-time comparison that treats non-strings as a mismatch."""
    return isinstance(given, str) and secrets.compare_digest(given.encode(), expected.encode())


class DemoAPI:
    """The demo API running in a background daemon thread: ``with DemoAPI() as api: api.url``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (the real port, even when 0 was asked)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        """Start serving in a daemon thread; returns self so calls can be chained."""
        if self._thread is None:
            # A short poll interval makes stop() return in ~50 ms instead of the default 0.5 s.
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="peak-tui-demo-api", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_forever(host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the demo API in the foreground, print its URL once, and stop on Ctrl+C or SIGTERM."""
    server = _Server((host, port))

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    bound_host, bound_port = server.server_address[:2]
    print(f"http://{bound_host!s}:{bound_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# The child of DemoAPIProcess: dies with the process that started it (a killed app leaves no server
# holding the port), then serves and prints its URL.
_CHILD = """
import ctypes, os, sys
try:
    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL (Linux)
except (OSError, AttributeError):
    pass
if os.getppid() != int(sys.argv[2]):  # the parent died before the signal was armed
    sys.exit(1)
from peak_tui.demo_api import serve_forever
serve_forever(port=int(sys.argv[1]))
"""


class DemoAPIProcess:
    """The demo API in a process of its own: ``with DemoAPIProcess() as api: api.url``.

    `peak-tui demo` uses it: served from a thread of the app, each request the demo feeds make
    competed with the app's UI thread for the interpreter lock (a Test took ~0.3 s longer).
    """

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 15) -> Self:
        """Start the server and wait for its URL; OSError if it cannot serve (the port is taken)."""
        if self._proc is not None:
            return self
        proc = self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(self.port), str(os.getpid())], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        line = proc.stdout.readline().strip() if ready else ""
        if not line.startswith("http://"):
            self.stop()
            raise OSError(f"the demo API could not serve on port {self.port}")
        self.url = line
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s) and release the port."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
