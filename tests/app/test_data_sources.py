"""Data Sources: the feed list, its filter, and every action on the selected feed, through Pilot."""
from __future__ import annotations

from app_fixtures import seed, settle, wait_for
from textual.widgets import DataTable, Input

from peak_tui.app import PeakApp
from peak_tui.locks import FileLock
from screens.confirm import ConfirmScreen, MessageScreen
from screens.data_sources import DataSourcesScreen
from screens.feed_rows import FeedFilter
from screens.help import HelpScreen
from screens.tags import TagChip, TagsScreen
from screens.test_result import TestResultScreen

SIZE = (120, 40)


async def opened(pilot) -> DataSourcesScreen:
    """The Data Sources screen once its list has loaded."""
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, DataSourcesScreen)
                            and pilot.app.screen.loaded and pilot.app.screen, what="the feed list")
    return screen


async def select(pilot, screen: DataSourcesScreen, name: str) -> None:
    table = screen.query_one("#feed-table", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.pause()
    assert screen.selected_name() == name


def row(screen: DataSourcesScreen, name: str) -> list[str]:
    return [str(c) for c in screen.query_one("#feed-table", DataTable).get_row(name)]


def test_filter_language():
    f = FeedFilter.parse("tag:Sales status:ok ord")
    assert (f.tags, f.statuses, f.words) == (["sales"], ["succeeded"], ["ord"])
    assert FeedFilter.parse("").empty
    assert FeedFilter.parse("conn:crm").connections == ["crm"]


async def test_list_shows_each_feed_with_its_last_run(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert [s.name for s in screen.shown] == ["customers", "events", "invoices", "orders"]
        orders = row(screen, "orders")
        assert orders[:3] == ["orders", "shop", "✗ failed"]
        assert orders[3] == "03-02 08:00" and orders[4] == "03-03 06:00" and orders[6] == "sales,daily"
        assert row(screen, "customers")[0] == "⏸ customers" and row(screen, "customers")[4] == "paused"
        assert row(screen, "invoices")[2] == "· never" and row(screen, "events")[4] == "webhook"
        summary = str(screen.query_one("#feeds-summary").render())
        assert "4 of 4 feeds" in summary and "2 failed" in summary
        await wait_for(pilot, lambda: pilot.app.sub_title == "local warehouse · scheduler off",
                       what="the header's workspace status")


async def test_filter_narrows_by_name_tag_and_status_as_you_type(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await pilot.press("slash")
        assert isinstance(pilot.app.focused, Input)
        await pilot.press(*"tag:sales")
        assert [s.name for s in screen.shown] == ["invoices", "orders"]
        await pilot.press(*" status:failed")
        assert [s.name for s in screen.shown] == ["orders"]
        screen.query_one("#feed-filter", Input).value = "status:paused"
        await pilot.pause()
        assert [s.name for s in screen.shown] == ["customers"]
        screen.query_one("#feed-filter", Input).value = "cust"
        await pilot.pause()
        assert [s.name for s in screen.shown] == ["customers"]
        await pilot.press("escape")
        assert [s.name for s in screen.shown] == ["customers", "events", "invoices", "orders"]
        assert isinstance(pilot.app.focused, DataTable)


async def test_run_a_demo_feed_against_the_demo_api(demo_ws):
    async with PeakApp(demo_ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "demo_orders")
        await pilot.press("r")
        assert "demo_orders" in pilot.app.live  # the job belongs to the App
        await wait_for(pilot, lambda: not pilot.app.live, 60, "the run to finish")
        await settle(pilot)
        run = demo_ws.runs.list("demo_orders")[0]
        assert (run.status, run.records, run.trigger) == ("succeeded", 250, "manual")
        await wait_for(pilot, lambda: row(screen, "demo_orders")[2] == "✓ succeeded", what="row")
        assert row(screen, "demo_orders")[5] == "250"
        assert demo_ws.feeds.metadata("demo_orders") == {"updated_since": "2026-01-07T09:33:00Z"}


async def test_test_opens_a_preview_and_loads_nothing(demo_ws):
    async with PeakApp(demo_ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "demo_orders")
        await pilot.press("t")
        result = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TestResultScreen)
                                and pilot.app.screen.query("#test-preview")
                                and pilot.app.screen.query_one("#test-preview").row_count
                                and pilot.app.screen, 60, "the test result")
        await pilot.pause()
        assert result.result.ok and result.result.total == 250
        assert result.query_one("#test-preview", DataTable).row_count == 10
        assert "passed" in str(result.query_one("#test-outcome").render())
        assert demo_ws.runs.list("demo_orders") == []  # a test is not a run
        await pilot.press("escape")
        assert pilot.app.screen is screen


async def test_pause_and_resume(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "orders")
        assert screen.check_action("pause", ()) and not screen.check_action("resume", ())
        await pilot.press("p")
        await wait_for(pilot, lambda: row(screen, "orders")[0] == "⏸ orders", what="paused row")
        assert ws.feeds.get("orders").paused
        assert screen.check_action("resume", ()) and not screen.check_action("pause", ())
        await pilot.press("u")
        await wait_for(pilot, lambda: row(screen, "orders")[0] == "orders", what="resumed row")
        assert not ws.feeds.get("orders").paused


async def test_tags_editor_adds_checks_and_removes_chips(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "orders")
        await pilot.press("g")
        tags = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TagsScreen) and pilot.app.screen)
        await pilot.press(*"bad-tag", "enter")
        assert "alphanumeric" in str(tags.query_one("#tag-error").render())
        tags.query_one("#tag-input", Input).value = ""
        await pilot.press(*"nightly", "enter")
        assert tags.tags == ["sales", "daily", "nightly"]
        chip = tags.query(TagChip).first()
        chip.focus()
        await pilot.press("delete")
        assert tags.tags == ["daily", "nightly"]
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: ws.feeds.get("orders").tags == ["daily", "nightly"], what="saved")
        await wait_for(pilot, lambda: row(screen, "orders")[6] == "daily,nightly", what="tags column")


async def test_delete_asks_first(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "invoices")
        await pilot.press("d")
        assert isinstance(pilot.app.screen, ConfirmScreen)
        await pilot.press("n")
        assert ws.feeds.exists("invoices") and pilot.app.screen is screen
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: "invoices" not in [s.name for s in screen.shown], what="gone")
        assert not ws.feeds.exists("invoices")


async def test_already_running_is_a_clear_message_not_a_crash(ws):
    seed(ws)
    lock = FileLock(ws.locks_dir / "feed-invoices.lock")
    assert lock.acquire()
    lock.write_note("run #99")
    try:
        async with PeakApp(ws).run_test(size=SIZE) as pilot:
            screen = await opened(pilot)
            await select(pilot, screen, "invoices")
            await pilot.press("r")
            await settle(pilot)
            notes = [n.message for n in pilot.app._notifications]
            assert any("already running (run #99)" in m for m in notes), notes
            assert pilot.app.is_running and not pilot.app.live
    finally:
        lock.release()


async def test_an_internal_failure_becomes_a_message(ws, monkeypatch):
    seed(ws)
    app = PeakApp(ws)
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "orders")

        def broken(*_a, **_kw):
            raise RuntimeError("disk on fire")

        feeds_type = type(ws.feeds)
        monkeypatch.setattr(feeds_type, "set_paused", broken)
        await pilot.press("p")  # an action: the failure is a modal naming what failed
        modal = await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen) and app.screen)
        assert "while pausing orders" in modal.message and "RuntimeError: disk on fire" in modal.message
        assert "Traceback" not in modal.message
        assert "Traceback" in (ws.home / "logs" / "tui-errors.log").read_text()
        monkeypatch.setattr(feeds_type, "list", broken)
        await pilot.press("enter")  # closing it reloads the list, which now fails: a notification
        await wait_for(pilot, lambda: any("while loading the feeds" in n.message
                                          for n in app._notifications), what="a notification")
        assert app.screen is screen and app.is_running


async def test_f1_explains_the_focused_widget_and_lists_keys(ws):
    seed(ws)
    async with PeakApp(ws).run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("f1")
        help_screen = pilot.app.screen
        assert isinstance(help_screen, HelpScreen)
        assert "Data Sources lists every feed" in help_screen.text
        keys = {str(r) for r in help_screen.keys.columns[1].cells}
        assert {"Run", "Test", "Resume", "Tags", "Delete", "Runs", "Edit", "Add"} <= keys
        assert "Pause" not in keys  # the cursor is on customers, which is paused
        await pilot.press("escape")
        assert isinstance(pilot.app.screen, DataSourcesScreen)


async def test_empty_workspace_says_how_to_start(ws):
    async with PeakApp(ws).run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot)
        assert "Press a to add one" in str(screen.query_one("#feeds-summary").render())
        await pilot.press("r")
        assert any("no feeds yet" in n.message for n in pilot.app._notifications)


async def test_the_app_settles_a_dead_run_before_its_first_list(ws):
    """make_app opens the workspace without recovery (it would delay the first frame); the first
    feed-list load settles a run whose process died, and the list shows it failed."""
    from peak_tui.recovery import DIED
    from peak_tui.tui import make_app

    seed(ws)
    run_id = ws.runs.start("orders", "manual", "dead-request", {})  # no process holds its lock
    app = make_app(ws.home)
    assert ws.runs.get(run_id).status == "running"  # opening did not settle it
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        assert (ws.runs.get(run_id).status, ws.runs.get(run_id).error) == ("failed", DIED)
        assert "failed" in row(screen, "orders")[2]
