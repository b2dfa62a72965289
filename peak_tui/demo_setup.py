"""`make run`'s main job: start the bundled demo API and put demo connections and a demo feed in place."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import requests

from peak_tui import demo
from peak_tui.demo_api import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_PASSWORD,
    DEMO_USER,
    DemoAPIProcess,
)
from peak_tui.models import Connection, Feed

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

DEMO_FEED = "demo_orders"
DEMO_PORT = 8765


def start_demo_api(port: int = DEMO_PORT) -> tuple[str, DemoAPIProcess | None]:
    """Serve the demo API on `port` (in its own process), reuse one already there, or fall back
    to a free port."""
    url = f"http://127.0.0.1:{port}"
    try:
        if requests.get(f"{url}/health", timeout=0.5).json().get("ok"):
            return url, None
    except (requests.RequestException, ValueError):
        pass
    try:
        api = DemoAPIProcess(port=port).start()
    except OSError:
        api = DemoAPIProcess(port=0).start()
    return api.url, api


def install_demo(ws: Workspace, base_url: str) -> list[str]:
    """Create (or re-point) the demo connections and feeds; returns the feed names."""
    conns = [
        Connection(name="demo", auth_type="none"),
        Connection(name="demobasic", auth_type="basic", username=DEMO_USER, password=DEMO_PASSWORD),
        Connection(name="democustom", auth_type="custom", auth_url=f"{base_url}/auth/token",
                   body={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}),
    ]
    for c in conns:
        if not ws.connections.exists(c.name):
            ws.connections.add(c)
        elif c.auth_type == "custom":
            ws.connections.update(c.name, auth_url=c.auth_url)
    feeds = [(DEMO_FEED, "demo", "orders", ["demo"]),
             ("demo_customers", "demobasic", "customers_basic", ["demo"]),
             ("demo_invoices", "democustom", "invoices_custom", ["demo"])]
    names = []
    for name, conn, script, tags in feeds:
        text = demo.with_base_url(demo.script(script), base_url)
        if ws.feeds.exists(name):
            feed = ws.feeds.get(name)
            if feed.script.startswith(text.split("BASE_URL")[0]):
                feed.script = _repoint(feed.script, base_url)
        else:
            feed = Feed(name=name, connection=conn, script=text, tags=tags)
        ws.feeds.save(feed)
        names.append(name)
    return names


def _repoint(script: str, base_url: str) -> str:
    out = []
    for line in script.splitlines(keepends=True):
        if line.startswith("BASE_URL = "):
            line = f'BASE_URL = "{base_url}"\n'
        out.append(line)
    return "".join(out)


def run_demo(args: argparse.Namespace) -> int:
    """Start the demo API, install the demo feed, run it, and show what landed in the warehouse."""
    from peak_tui.execution import run_feed
    from peak_tui.output import table
    from peak_tui.workspace import Workspace

    ws = Workspace.open(args.home)
    url, api = start_demo_api()
    try:
        print(f"demo API at {url}; workspace at {ws.home}")
        install_demo(ws, url)
        run = run_feed(ws, DEMO_FEED, trigger="manual",
                       on_log=lambda line: print(f"  {line}", file=sys.stderr))
        print(f"run #{run.id} {run.status}: {run.records} records"
              + (f" ({run.error})" if run.error else ""))
        cols, rows = ws.local.query(
            f"SELECT id, status, total, updated_at FROM {DEMO_FEED} ORDER BY updated_at DESC LIMIT 5")
        table(cols, [list(r) for r in rows])
        n = ws.local.query(f"SELECT count(*) FROM {DEMO_FEED}")[1][0][0]
        print(f"{n} rows in the local warehouse table {DEMO_FEED}; metadata now "
              f"{ws.feeds.metadata(DEMO_FEED)}")
    finally:
        if api:
            api.stop()
    return 0 if run.status == "succeeded" else 1
