"""The webhook endpoint: ``POST /hooks/<feed>/<token>`` runs a feed; the JSON body is its payload.

Stdlib ``ThreadingHTTPServer``: a handful of routes, bounded bodies and no extra dependency to keep
patched. Answers (all JSON):

- 202 ``{"feed", "run_id", "status": "running", "status_url"}`` once the run has started; with
  ``?wait=SECONDS`` (max 600) it waits for the end and answers 200 with the finished run instead.
  When every worker is busy it answers at once: 202 with ``"status": "queued"`` and the id of
  the run, recorded as queued (it starts when a worker is free).
- 401 for a missing or wrong token (one body for both; constant-time comparison), or, when the
  feed's trigger has ``"hmac": true``, a missing or wrong ``X-Peak-Signature: sha256=<hex>``.
- 409 paused feed, feed not webhook-triggered, or already running (recorded as a skipped run).
- 413 body over ``MAX_BODY`` (judged from Content-Length before reading); 411 for a chunked body
  (send Content-Length); 400 body that is not JSON. An empty body gives the script payload None.
- ``GET /hooks/<feed>/<token>/runs/<id>`` -> 200 the run's status; ``GET /health`` -> 200.
"""
from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Self

from peak_tui.webhook_handler import MAX_BODY, MAX_WAIT, WebhookHandler, run_view

if TYPE_CHECKING:
    from peak_tui.dispatcher import Dispatcher
    from peak_tui.workspace import Workspace

__all__ = ["MAX_BODY", "MAX_WAIT", "WebhookServer", "run_view"]


class WebhookServer:
    """The HTTP endpoint of one daemon, serving in a background thread."""

    def __init__(self, ws: Workspace, dispatcher: Dispatcher, host: str = "127.0.0.1",
                 port: int = 0, public_url: str = "") -> None:
        self.ws = ws
        self.dispatcher = dispatcher
        self.public_url = public_url.rstrip("/")
        self.httpd = _Server((host, port), WebhookHandler)
        self.httpd.hook = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL this server answers on."""
        host = str(self.httpd.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> Self:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="peak-webhook",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    hook: WebhookServer
