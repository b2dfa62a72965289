"""The LogPane: lines from other threads arrive in batches, memory stays bounded, search and copy."""
from __future__ import annotations

import threading

from app_fixtures import wait_for
from textual.app import App, ComposeResult

from peak_tui.widgets.log_pane import LogPane


class PaneApp(App[None]):
    def __init__(self, max_lines: int = 100) -> None:
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield LogPane(max_lines=self.max_lines)


async def test_lines_from_threads_are_batched_and_bounded():
    app = PaneApp(max_lines=100)
    async with app.run_test() as pilot:
        pane = app.query_one(LogPane)
        threads = [threading.Thread(target=lambda k=k: [pane.push(f"t{k} line {i}") for i in range(500)])
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert pane.received == 2000 and pane.pending <= 100  # queued, bounded, not yet painted
        await wait_for(pilot, lambda: pane.pending == 0, what="the flush")
        assert len(pane.lines) <= 100
        assert pane.lines[0].startswith("[pane] ... ") and "skipped in this view" in pane.lines[0]
        status = str(app.query_one("#log-status").render())
        assert "2,000 lines" in status and "showing the last 100" in status


async def test_stored_log_longer_than_the_pane_keeps_its_tail_and_blank_lines():
    app = PaneApp(max_lines=50)
    async with app.run_test() as pilot:
        pane = app.query_one(LogPane)
        text = "\n".join(f"line {i}" if i % 10 else "" for i in range(1, 201)) + "\n"
        pane.set_text(text)
        await pilot.pause()
        assert len(pane.lines) == 50 and pane.lines[-1] == "line 199"
        assert "the first 151 lines are not shown" in pane.lines[0]
        assert " " in pane.lines  # a blank line stays a line
        assert pane.text() == "\n".join(pane.lines) + "\n"
        pane.copy_source = lambda: text
        await pilot.press("tab")  # focus the log view
        pane.log_view.focus()
        await pilot.press("c")
        assert app.clipboard == text


async def test_search_highlights_and_steps_through_hits():
    app = PaneApp(max_lines=1000)
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(LogPane)
        pane.set_text("\n".join("ERROR boom" if i % 100 == 0 else f"ok {i}" for i in range(500)))
        pane.log_view.focus()
        await pilot.press("slash", *"error")
        assert pane.search("error") == 5
        await pilot.press("enter")
        assert pane.log_view.current_match == 0 and not pane.follow
        await pilot.press("escape", "n", "n")
        assert pane.log_view.current_match == 200
        await pilot.press("N")
        assert pane.log_view.current_match == 100
        await pilot.press("f")
        assert pane.follow
