"""Benchmarks of the app: cold start, a log flood, the feed list at scale, Test keypress-to-preview.

Run: `.venv/bin/python bench/bench_tui.py [--only start|flood|list|test] [--runs N]`. Each prints its
figure and the ratio against its target or its same-run baseline (this machine is noisy).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "app"))
os.environ["PEAK_TUI_KEYRING"] = "0"

# Each child starts a fresh interpreter and prints the seconds from its spawn (BENCH_T0, set by the
# parent just before it starts the child) to the first frame the app hands its driver: Textual
# renders the frame in headless mode too and only skips the terminal write. The hook is the same
# for every app measured, so the ratios compare like with like.
HOOK = """
import os, sys, time
from textual.app import App as _App
_display = _App._display
def _first_frame(self, screen, renderable):
    _display(self, screen, renderable)
    if renderable is not None and (WAIT_FOR is None or getattr(self.screen, WAIT_FOR, False)):
        print(f"{time.time() - float(os.environ['BENCH_T0']):.4f}", flush=True)
        os._exit(0)
_App._display = _first_frame
WAIT_FOR = sys.argv[2] if len(sys.argv) > 2 else None
"""
BARE = HOOK + """
from textual.app import App
from textual.widgets import Label
class Bare(App):
    def compose(self):
        yield Label("hello")
Bare().run(headless=True, size=(120, 40))
"""
SAME_WIDGETS = HOOK + """
from textual.app import App
from textual.widgets import DataTable, Footer, Header, Input, Static
class Same(App):
    BINDINGS = [(k, "bell", k) for k in "rteahpgd"]
    def compose(self):
        yield Header()
        yield Input()
        table = DataTable()
        table.add_columns("Feed", "Connection", "Last run", "Started", "Next run", "Records", "Tags")
        yield table
        yield Static("")
        yield Footer()
Same().run(headless=True, size=(120, 40))
"""
PEAK = HOOK + """
from peak_tui.tui import make_app
make_app(sys.argv[1]).run(headless=True, size=(120, 40))
"""


def _child(code: str, *args: str, env: dict[str, str]) -> float:
    """Seconds from spawning a child to its first frame (or, with "loaded", its filled feed list)."""
    env = dict(env, BENCH_T0=repr(time.time()))
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, env=env, cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
    return float(out.stdout.strip().splitlines()[-1])


def bench_start(runs: int) -> None:
    """Process start to first frame: peak-tui vs a bare Textual app, alternating, medians."""
    from app_fixtures import seed

    from peak_tui.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="peak-bench-") as tmp:
        home = Path(tmp) / "home"
        seed(Workspace.open(home))
        cases = {"as installed (PYTHONDONTWRITEBYTECODE=1; .pyc from make's byte-compile step)": dict(os.environ)}
        warm = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        warm["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cases["with bytecode cached"] = warm
        for label, env in cases.items():
            _child(BARE, env=env)
            _child(PEAK, str(home), env=env)  # warm the OS cache (and .pyc, if written)
            bare, same, peak, listed = [], [], [], []
            for _ in range(runs):
                bare.append(_child(BARE, env=env))
                same.append(_child(SAME_WIDGETS, env=env))
                peak.append(_child(PEAK, str(home), env=env))
                listed.append(_child(PEAK, str(home), "loaded", env=env))
            b, sw, p, li = (statistics.median(x) for x in (bare, same, peak, listed))
            print(f"cold start, {label}: bare Textual {b:.3f} s, peak-tui first frame {p:.3f} s "
                  f"(ratio {p / b:.2f}x, target <= 1.3x), feed list shown {li:.3f} s "
                  f"(ratio {li / b:.2f}x); a bare app with the same widgets (Header, Input, "
                  f"DataTable, Footer) {sw:.3f} s (ratio {sw / b:.2f}x; peak-tui / that: {p / sw:.2f}x)")


def bench_flood(lines: int = 200_000) -> None:
    """A producer thread pushes `lines` lines one by one; the UI ticks every 10 ms meanwhile."""
    from textual.app import App, ComposeResult

    from peak_tui.widgets.log_pane import LogPane

    class FloodApp(App[None]):
        def compose(self) -> ComposeResult:
            yield LogPane()

    async def run() -> tuple[float, float, int, list[float]]:
        app = FloodApp()
        async with app.run_test(size=(120, 40)) as pilot:
            pane = app.query_one(LogPane)
            ticks: list[float] = []
            app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
            await pilot.pause(0.2)
            ticks.clear()
            done = threading.Event()

            def produce() -> None:
                for i in range(lines):
                    pane.push(f"2026-03-02 08:00:00 INFO page {i // 100}: record {i} written ok")
                done.set()

            started = time.perf_counter()
            threading.Thread(target=produce, daemon=True).start()
            while not done.is_set():
                await pilot.pause(0.01)
            absorbed = time.perf_counter() - started
            while pane.pending:
                await pilot.pause(0.01)
            drained = time.perf_counter() - started
            await pilot.pause(0.1)
            gaps = [b - a - 0.01 for a, b in zip(ticks, ticks[1:], strict=False)]
            return absorbed, drained, len(pane.lines), gaps

    absorbed, drained, held, gaps = asyncio.run(run())
    worst = max(gaps)
    p99 = sorted(gaps)[int(len(gaps) * 0.99)]
    print(f"log flood, {lines:,} lines pushed one at a time from a thread: {lines / absorbed:,.0f} "
          f"lines/s absorbed (target >= 100,000/s, ratio {lines / absorbed / 100_000:.2f}x); "
          f"painted by {drained:.2f} s; worst UI stall {worst * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms "
          f"(target <= 50 ms, ratio {worst / 0.05:.2f}x); pane holds {held:,} lines (max 10,000)")


def bench_list() -> None:
    """Data Sources with 1,000 feeds and 100,000 runs: mount to a filled table."""
    from app_fixtures import bulk

    from peak_tui.app import PeakApp
    from peak_tui.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="peak-bench-") as tmp:
        ws = Workspace.open(Path(tmp) / "home")
        bulk(ws, 1000, 100_000)
        started = time.perf_counter()
        ws.feeds.list()
        query = time.perf_counter() - started

        async def run() -> float:
            app = PeakApp(ws)
            async with app.run_test(size=(120, 40)) as pilot:
                while not getattr(app.screen, "loaded", False):
                    await pilot.pause(0.005)
                return float(app.screen.first_load_seconds or 0.0)

        opened = statistics.median(asyncio.run(run()) for _ in range(3))
        print(f"Data Sources, 1,000 feeds / 100,000 runs: list query {query * 1000:.0f} ms; mount to "
              f"filled table {opened:.2f} s (target <= 0.5 s, ratio {opened / 0.5:.2f}x)")


def bench_test(runs: int) -> None:
    """`t` on a demo feed to its record preview, against the demo API, environment already built.

    Warm: the cursor rested on the feed long enough for its warm interpreter to be ready (the app
    starts one 0.15 s after the cursor stops; the user sees the list first). Cold: no spare waiting
    (the pool turned off), so the script's Python starts and imports requests after the keypress.
    """
    from textual.widgets import DataTable

    from peak_tui.app import PeakApp
    from peak_tui.demo_api import DemoAPIProcess
    from peak_tui.demo_setup import install_demo
    from peak_tui.runtime.warm import POOL
    from peak_tui.workspace import Workspace
    from screens.test_result import TestResultScreen

    engine: list[float] = []
    import peak_tui.execution as execution

    real_test = execution.test_feed

    def timed_test(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return real_test(*args, **kwargs)
        finally:
            engine.append(time.perf_counter() - t0)

    execution.test_feed = timed_test  # the app imports it at call time

    async def press_t_until_preview(app: PeakApp, pilot: Any, warm: bool) -> float:
        deadline = time.monotonic() + 5
        while warm and not any(POOL.ready(p) for p in list(POOL._spares)) and \
                time.monotonic() < deadline:
            await pilot.pause(0.02)
        if not warm:
            POOL.close()
        await pilot.pause()
        previous = getattr(app.screen, "result", None)
        started = time.perf_counter()
        app.screen.action_test()  # what `t` runs (Pilot.press itself waits for idle)
        while True:
            screen: Any = app.screen
            if isinstance(screen, TestResultScreen) and screen.result is not None and \
                    screen.result is not previous and screen.job is None and \
                    screen.query("#test-preview") and \
                    screen.query_one("#test-preview", DataTable).row_count:
                return time.perf_counter() - started
            await pilot.pause(0.005)

    async def once(ws: Workspace, warm: bool) -> tuple[float, float]:
        """The first Test after start-up (the Test screen is built), then `t` again on it."""
        app = PeakApp(ws)
        async with app.run_test(size=(120, 40)) as pilot:
            while not getattr(app.screen, "loaded", False):
                await pilot.pause(0.005)
            table = app.screen.query_one("#feed-table", DataTable)
            table.move_cursor(row=table.get_row_index("demo_orders"))
            first = await press_t_until_preview(app, pilot, warm)
            again = await press_t_until_preview(app, pilot, warm)
            return first, again

    # in its own process, as `make run` starts it (a thread of this process would share the GIL)
    with tempfile.TemporaryDirectory(prefix="peak-bench-") as tmp, DemoAPIProcess() as api:
        ws = Workspace.open(Path(tmp) / "home")
        install_demo(ws, api.url)
        asyncio.run(once(ws, False))  # builds the environment: not part of the figure
        for warm in (True, False):
            engine.clear()
            pairs = [asyncio.run(once(ws, warm)) for _ in range(runs)]
            eng = statistics.median(engine)
            for label, times in (("first Test after start", [a for a, _ in pairs]),
                                 ("Test again (t on the Test screen)", [b for _, b in pairs])):
                med = statistics.median(times)
                print(f"Test keypress to preview, {label}, "
                      f"{'warm interpreter waiting' if warm else 'cold: no spare'} (environment "
                      f"built, demo API, 250 records): median {med:.2f} s over {runs} (runs: "
                      f"{' '.join(f'{t:.2f}' for t in times)}; target <= 0.5 s, ratio "
                      f"{med / 0.5:.2f}x); the engine's test_feed: median {eng:.2f} s")


def main() -> None:
    """Run the chosen benchmarks (all by default)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=["start", "flood", "list", "test"], action="append")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    chosen = args.only or ["start", "flood", "list", "test"]
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if "start" in chosen:
        bench_start(args.runs)
    if "flood" in chosen:
        bench_flood()
    if "list" in chosen:
        bench_list()
    if "test" in chosen:
        bench_test(args.runs)


if __name__ == "__main__":
    main()
