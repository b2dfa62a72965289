"""The one app factory, used by the CLI, the tests and the benchmarks (like Posting's make_posting)."""
from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from peak_tui.app import PeakApp


def make_app(home: str | os.PathLike[str] | Path | None = None, *,
             demo_url: str | None = None) -> PeakApp:
    """Open the workspace at `home` (--home, $PEAK_TUI_HOME, or the user data dir) and build the app."""
    # Start-up (importing Textual, building the first screen) allocates a great many objects that
    # live as long as the app: collecting as they come cost ~25 ms, 7 % of the start (measured with
    # bench/bench_tui.py). The app freezes them and turns collection back on after its first frame.
    gc.disable()
    try:
        from peak_tui.app import PeakApp
        from peak_tui.workspace import Workspace, resolve_home

        # runs whose process died are settled by the app's first feed-list load, off the UI thread
        return PeakApp(Workspace(resolve_home(home), recover=False), demo_url=demo_url, recover=True)
    except BaseException:
        gc.enable()
        raise
