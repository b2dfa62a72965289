"""A new user drives the real app in tmux: connection, feed with a dependency, Test, Save, Run, history.

The app runs as `python -m peak_tui --home TMP` in a private tmux server (its own socket), 120x40,
escape-time 0. Every step sends keys and polls `capture-pane` for what the user would look for.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tmux_driver import Tmux

from peak_tui.demo_api import DemoAPI
from peak_tui.workspace import Workspace


@pytest.fixture
def api() -> Iterator[DemoAPI]:
    with DemoAPI(port=0) as demo:
        yield demo


@pytest.fixture
def app_in_tmux(tmp_path: Path, shared_envs_dir: Path) -> Iterator[tuple[Tmux, Path]]:
    assert shutil.which("tmux"), "tmux is part of the test environment"
    home = tmp_path / "home"
    home.mkdir()
    (home / "envs").symlink_to(shared_envs_dir, target_is_directory=True)  # share built envs
    # COLUMNS/LINES (set by some runners) would override the pane size in shutil.get_terminal_size
    command = (f"env -u COLUMNS -u LINES PEAK_TUI_KEYRING=0 TZ=UTC {sys.executable} -m peak_tui "
               f"--home {home}; "
               "echo peak-tui exited with $?; sleep 60")
    session = Tmux(command)
    try:
        yield session, home
    finally:
        session.close()


def add_dependency(t: Tmux, requirement: str, tries: int = 4) -> None:
    """Type a requirement into the Dependencies box and press Enter so it becomes a chip.

    Stage 2 builds lazily: on a busy machine keys can arrive before the box has the focus (they
    are lost: type again) or while the script editor has it (undo there, then Escape + Shift+Tab
    walk back to the Dependencies box).
    """
    in_box = r"Dependencies\s*\n\s*" + re.escape(requirement) + r"\s*\n"
    for _ in range(tries):
        t.type(requirement)
        screen = t.poll(in_box + "|" + re.escape(requirement) + "import requests", timeout=5)
        if screen is None:  # some or all keys were lost: empty the box if it got a part, again
            if re.search(r"Dependencies\s*\n\s*(?!a pip requirement)\S", t.screen()):
                t.keys("End", "C-u")
                t.wait(r"Dependencies\s*\n\s*a pip requirement")
            continue
        if re.search(in_box, screen):
            t.keys("Enter")
            t.wait(r"Dependencies\s*\n\s*a pip requirement")  # the box emptied into a chip
            return
        t.keys("C-z", "Escape", "S-Tab")
        t.wait(r"  1  import requests")
    raise AssertionError(f"could not type into the Dependencies box:\n{t.screen()}")


TEMPLATE_HEAD = (r" 1  import requests\s+▎\n.* 2  from lib import outputStream, metadata\s+▎\n"
                 r".* 3 \s+▎\n.* 4  BASE_URL = \"http://127\.0\.0\.1:8765\"\s+▎")


def replace_line_4(t: Tmux, text: str, tries: int = 5) -> None:
    """Select line 4 of the script, wait until the selection shows, then type over it.

    Cursor keys go through bindings and typed text straight to the editor, so text sent right
    after them can land first; the selection is visible in the colours only (capture -e).
    """
    for _ in range(tries):
        before = t.row_ansi(r" 4  BASE_URL = ")
        t.keys("PageUp", "PageUp", "Down", "Down", "Down", "Home", "S-End")  # row 4, from anywhere
        deadline = time.monotonic() + 5
        while t.row_ansi(r" 4  BASE_URL = ") == before and time.monotonic() < deadline:
            time.sleep(0.05)  # poll interval: waiting for the selection to be painted
        t.type(text)
        if t.poll(r" 4  " + re.escape(text) + r"\s+▎", timeout=5):
            return
        for _ in range(12):  # the keys went astray: undo back to the template, then Tab on
            if t.poll(TEMPLATE_HEAD, timeout=0.5):
                break
            t.keys("C-z")
        t.keys("Escape")
    raise AssertionError(f"could not edit line 4 of the script:\n{t.screen()}")


def type_until(t: Tmux, text: str, shown: str, *, empty: str, tries: int = 5) -> None:
    """Type into a field that the wizard may still reset while it loads: retype while it is empty."""
    for _ in range(tries):
        if re.search(empty, t.screen()):
            t.type(text)
        if t.poll(shown, timeout=3):
            return
    t.wait(shown, timeout=1)


def test_a_feed_made_with_the_cli_runs_from_the_list_and_shows_its_history(tmp_path, api,
                                                                          shared_envs_dir):
    """Steps 1, 5 and 6 without the wizard: the feed comes from `peak-tui feed import`."""
    from peak_tui import demo
    from peak_tui.feedfile import to_toml
    from peak_tui.models import Feed

    home = tmp_path / "home"
    home.mkdir()
    (home / "envs").symlink_to(shared_envs_dir, target_is_directory=True)
    feed = Feed(name="orders", connection="shop", dependencies=["six"],
                script=demo.with_base_url(demo.script("orders"), api.url), tags=["demo"])
    (tmp_path / "orders.toml").write_text(to_toml(feed))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(PEAK_TUI_KEYRING="0", TZ="UTC")
    for args in (["connection", "add", "shop"], ["feed", "import", str(tmp_path / "orders.toml")]):
        subprocess.run([sys.executable, "-m", "peak_tui", "--home", str(home), *args], check=True,
                       env=env, capture_output=True, timeout=120)
    t = Tmux(f"env -u COLUMNS -u LINES PEAK_TUI_KEYRING=0 TZ=UTC {sys.executable} -m peak_tui "
             f"--home {home}; echo peak-tui exited with $?; sleep 60")
    try:
        t.wait(r"orders\s+shop\s+· never\s+manual\s+demo", timeout=90)
        t.keys("r")
        t.wait(r"orders\s+shop\s+✓ succeeded\s+\S+ \S+\s+manual\s+250\s+demo", timeout=120)
        t.keys("h")
        t.wait(r"Run history · orders")
        t.wait(r"#1\s+✓ succeeded\s+manual\s+\S+ \S+\s+\S+ s\s+250")
        t.keys("Enter")
        t.wait(r"run #1 of orders\s+✓ succeeded")
        t.wait(r"page 5: 50 orders")  # the stored log, in the log pane
        t.keys("Escape")
        t.wait(r"Run history · orders")
        t.keys("Escape")
        t.wait(r"Data Sources")
        t.keys("C-q")
        t.wait(r"peak-tui exited with 0", timeout=30)
    finally:
        t.close()


def test_a_new_user_adds_tests_saves_runs_and_reads_history(app_in_tmux, api):
    t, home = app_in_tmux
    # 1. launch: Data Sources, empty, with the warehouse and scheduler in the header
    t.wait(r"No feeds yet\. Press a to add one", timeout=90)
    t.wait(r"Data Sources — local warehouse · scheduler off")

    # 2. add a connection: stage 1 of the wizard
    t.keys("a")
    t.wait(r"Delete connection", timeout=60)  # the wizard loaded and focused the connection list
    t.keys("Tab")
    type_until(t, "shop", r"Name\s+shop", empty=r"Name\s+letters and digits")
    t.keys("C-n")  # Next saves the new connection
    t.wait(r"a pip requirement", timeout=30)

    # 3. the feed: a dependency chip, and the script pointed at the demo API
    add_dependency(t, "six")
    t.keys("Tab")
    t.wait(r"Remove dependency")  # the chip has the focus
    t.keys("Tab")
    t.wait_gone(r"Remove dependency")  # now the script editor has it
    replace_line_4(t, f'BASE_URL = "{api.url}"')

    # 4. Test it and see the preview
    t.keys("C-t")
    t.wait(r"Test passed: 100 records", timeout=120)

    # 5. name, save, and run it from the list
    t.keys("C-n")
    t.wait(r"Feed name")
    type_until(t, "shop_orders", r"Feed name\s+shop_orders", empty=r"Feed name\s+e\.g\. sales_orders")
    t.keys("C-s")
    t.wait(r"shop_orders\s+shop\s+· never", timeout=30)
    t.keys("r")
    t.wait(r"shop_orders\s+shop\s+✓ succeeded", timeout=120)

    # 6. its run history
    t.keys("h")
    screen = t.wait(r"Run history · shop_orders")
    screen = t.wait(r"#1\s+✓ succeeded\s+manual")
    assert re.search(r"1 runs · 1 succeeded \(100%\)", screen)
    assert re.search(r"#1\s+✓ succeeded\s+manual\s+\S+ \S+\s+\S+ s\s+100", screen)

    ws = Workspace.open(home)
    feed = ws.feeds.get("shop_orders")
    assert (feed.connection, feed.dependencies) == ("shop", ["six"])
    assert ws.runs.list("shop_orders")[0].records == 100
    assert ws.local.query("SELECT count(*) FROM shop_orders")[1][0][0] == 100
    t.keys("C-q")
    t.wait(r"peak-tui exited with 0", timeout=30)
