"""Stages 2-5 of the feed wizard, navigation, Escape, Save and Edit (Pilot, real SQLite)."""
from __future__ import annotations

import asyncio

from textual import events
from textual.widgets import Checkbox, Input, Select, TextArea
from wizard_host import (
    FIXED_NOW,
    WizardHost,
    fill,
    freeze_clock,
    goto_stage,
    opened,
    type_into,
    wait_for,
)

from peak_tui import demo
from peak_tui.models import Connection, Feed
from peak_tui.widgets.cron_field import CronField
from peak_tui.widgets.dependency_chips import Chip, DependencyChips
from peak_tui.widgets.script_editor import ScriptEditor
from screens.destination import DestinationStage
from screens.import_config import ImportStage
from screens.load_settings import LoadStage
from screens.trigger import TriggerStage
from screens.trigger_schedule import ScheduleForm
from screens.trigger_watchers import WatcherList
from screens.wizard_form import Field, field_of
from screens.wizard_steps import LONG, StepIndicator

SIZE = (120, 40)


def with_connection(ws):
    ws.connections.add(Connection(name="api"))
    return ws


def error_of(widget) -> str | None:
    field = field_of(widget)
    assert isinstance(field, Field)
    return field.error


async def test_dependencies_become_chips_and_the_editor_is_python(ws):
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: wizard.step == 1, what="stage 2")
        chips = wizard.query_one(DependencyChips)
        box = chips.query_one("#chips-input", Input)
        assert app.focused is box
        await fill(pilot, box, "pandas>=2")
        await pilot.press("tab")  # Tab turns the text into a chip and keeps focus
        assert chips.values == ["pandas>=2"] and app.focused is box and box.value == ""
        await fill(pilot, box, "$evil")
        await pilot.press("enter")
        assert chips.values == ["pandas>=2"]
        assert chips.error.startswith("dependencies: must not contain shell characters")
        assert wizard.query_one(ImportStage).problem().startswith("dependencies: press Enter to add")
        await fill(pilot, box, "orjson")
        await pilot.press("enter")
        await fill(pilot, box, "Pandas")
        await pilot.press("enter")
        assert "pandas is already listed" in chips.error
        await fill(pilot, box, "")
        assert chips.values == ["pandas>=2", "orjson"]
        first = chips.query(Chip).first()
        first.focus()
        await pilot.press("delete")  # Delete removes the focused chip; focus moves to the next
        await wait_for(pilot, lambda: chips.values == ["orjson"], what="the chip to go")
        await pilot.pause()
        assert isinstance(app.focused, Chip) and app.focused.requirement == "orjson"
        await pilot.press("backspace")
        await wait_for(pilot, lambda: chips.values == [], what="the last chip to go")
        editor = wizard.query_one(ScriptEditor)
        area = editor.text_area
        assert area.is_syntax_aware and area.language == "python" and area.show_line_numbers
        assert editor.text == demo.script("template")
        assert editor.text.startswith("import requests\nfrom lib import outputStream, metadata\n")
        area.focus()
        area.move_cursor((0, 0))
        await pilot.press("tab")  # Tab indents inside the editor
        assert area.text.startswith("    import requests")
        await pilot.press("escape")  # Esc leaves the editor; the wizard stays open
        assert app.focused is not area and app.screen is wizard
        area.load_text("def broken(:\n")
        await pilot.pause()
        assert wizard.query_one(ImportStage).problem().startswith(
            "feed.script: has a syntax error on line 1")
        await pilot.press("ctrl+n")
        assert wizard.step == 1


async def test_keys_typed_while_the_next_stage_builds_land_in_it(ws, monkeypatch):
    """Typing right after Next, while stage 2 is still being built (lazily), neither loses the
    keys nor lets them act on stage 1: they are held and replayed into stage 2's first field."""
    real_build = ImportStage.build
    gate = asyncio.Event()

    async def slow_build(self):  # a slow machine: the build finishes when the test says so
        await gate.wait()
        await real_build(self)

    monkeypatch.setattr(ImportStage, "build", slow_build)
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage_one = wizard.stages[0].get_values()
        app.post_message(events.Key("ctrl+n", None))
        try:
            for _ in range(500):  # plain sleeps: Pilot's pauses would wait for the build
                if wizard._held_keys is not None:
                    break
                await asyncio.sleep(0.01)
            assert wizard._held_keys == [] and app.focused is None  # stage 1 lost the focus
            for key, char in [("s", "s"), ("i", "i"), ("x", "x"), ("enter", "\r")]:
                app.post_message(events.Key(key, char))
            await asyncio.sleep(0.3)
            assert not wizard.stages[1].built and wizard.stages[0].get_values() == stage_one
        finally:
            gate.set()
        await wait_for(pilot, lambda: wizard.stages[1].built and wizard.query(DependencyChips)
                       and wizard.query_one(DependencyChips).values == ["six"], what="the chip")
        assert wizard.step == 1 and wizard.stages[0].get_values() == stage_one
        assert app.focused is wizard.query_one(DependencyChips).query_one("#chips-input", Input)


async def test_feed_name_rules_and_back(ws):
    ws.feeds.save(Feed(name="orders", connection=with_connection(ws) and "api", script="x = 1\n"))
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await goto_stage(pilot, wizard, 2)
        stage = wizard.query_one(LoadStage)
        name = stage.name_input
        assert "Incremental" in str(stage.query_one("#load-type-value").render())
        cases = {
            "1orders": "feed.name: must start with a letter (got '1orders')",
            "orders_": "feed.name: must not end with an underscore (got 'orders_')",
            "or-ders": "feed.name: may contain only letters, digits and underscores (got 'or-ders')",
            "o" * 51: f"feed.name: must be at most 50 characters (got '{'o' * 51}')",
            "orders": "feed.name: already exists: pick another name (got 'orders')",
        }
        for value, message in cases.items():
            await fill(pilot, name, value)
            assert error_of(name) == message
            assert stage.problem() == message
        await type_into(pilot, name, "sales_2")
        assert error_of(name) is None and stage.problem() is None
        await pilot.press("ctrl+g")
        assert wizard.step == 1
        wizard.query_one("#nav-back").press()
        await pilot.pause()
        assert wizard.step == 0
        assert wizard.check_action("back", ()) is False
        # a click on a step of the step line jumps there (past valid stages only)
        before = " › ".join(f"✓ {label}" for label in LONG[:2]) + " › "
        await pilot.click(StepIndicator, offset=(1 + len(before) + 2, 0))
        await wait_for(pilot, lambda: wizard.shown_step == 2, what="a click on step 3")


async def test_destination_offers_the_warehouse_kinds(ws):
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await goto_stage(pilot, wizard, 3)
        stage = wizard.query_one(DestinationStage)
        assert stage.offered == ("local",)
        assert "Local" in str(stage.query_one("#warehouse").render())
        assert stage.get_values() == {"destination": {"type": "local"}}
        assert stage.problem() is None


async def test_trigger_schedule_basic_and_cron(ws, monkeypatch):
    freeze_clock(monkeypatch)
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await goto_stage(pilot, wizard, 4)
        stage = wizard.query_one(TriggerStage)
        assert stage.get_values() == {"trigger": {"type": "manual"}, "watchers": []}
        wizard.query_one("#trig-type", Select).value = "schedule"
        form = stage.query_one(ScheduleForm)
        for day in ("MON", "TUE", "WED", "THU", "FRI"):
            form.query_one(f"#day-{day}", Checkbox).value = False
        # the rules are read from the widgets at once; inline errors follow on the next paint
        assert stage.problem() == "schedule.days: pick at least one day (MON..SUN) (got [])"
        form.query_one("#day-SAT", Checkbox).value = True
        time_input = form.query_one("#basic-time", Input)
        time_input.value = "25:00"
        assert "schedule.time: must be HH:MM in 24-hour time" in stage.problem()
        await pilot.pause()
        assert "schedule.time: must be HH:MM" in error_of(time_input)  # shown as you type
        await fill(pilot, time_input, "07:30")
        assert stage.problem() is None and error_of(time_input) is None
        assert stage.get_trigger() == {"type": "schedule", "basic": {"days": ["SAT"], "time": "07:30"}}
        assert str(form.query_one("#basic-reading").render()) == "At 07:30 every Saturday"
        form.query_one("#basic-kind", Select).value = "every"
        form.query_one("#every-n", Input).value = "90"
        assert "schedule.every: must be a whole number of minutes from 1 to 59" in stage.problem()
        form.query_one("#every-n", Input).value = "15"
        assert stage.get_trigger()["basic"] == {"every": 15, "unit": "minutes"}
        form.query_one("#sched-mode", Select).value = "cron"
        await pilot.pause()
        cron = form.query_one(CronField)
        await fill(pilot, cron.query_one(Input), "0 61 * * * ?")
        assert cron.problem().startswith("cron.minutes")
        assert stage.problem() == cron.problem() and cron.reading == ""
        assert cron.has_class("-error")
        await fill(pilot, cron.query_one(Input), "0 15 10 ? * 6L")
        assert cron.problem() is None
        assert cron.reading == "At 10:15 on the last Friday of every month"
        assert [t.isoformat() for t in cron.next_runs][:2] == [
            "2026-03-27T10:15:00+00:00", "2026-04-24T10:15:00+00:00"]  # the workspace zone: UTC
        assert all(t > FIXED_NOW for t in cron.next_runs) and len(cron.next_runs) == 5
        assert "Next runs (UTC): Fri 2026-03-27 10:15" in str(cron.query_one("#cron-next").render())
        tz = form.query_one("#sched-tz", Input)
        tz.value = "Mars/Base"
        assert "is not an IANA time zone name" in stage.problem()
        await fill(pilot, tz, "Europe/London")
        assert cron.timezone == "Europe/London"
        assert cron.next_runs[1].isoformat() == "2026-04-24T10:15:00+01:00"
        assert stage.get_trigger() == {"type": "schedule", "cron": "0 15 10 ? * 6L",
                                       "timezone": "Europe/London"}
        wizard.query_one("#trig-type", Select).value = "webhook"
        assert stage.get_trigger() == {"type": "webhook", "hmac": False}
        wizard.query_one("#trig-type", Select).value = "once"
        stage.query_one("#once-kind", Select).value = "at"
        assert stage.problem().startswith("feed.trigger.at: is required")
        stage.query_one("#once-at", Input).value = "next tuesday"
        assert "must be an ISO date-time like 2026-12-01T09:30" in stage.problem()
        await fill(pilot, stage.query_one("#once-at", Input), "2026-01-01T09:30")
        assert stage.problem() is None
        assert "has passed" in str(stage.query_one("#once-past").render())
        assert stage.get_trigger() == {"type": "once", "at": "2026-01-01T09:30"}


async def test_watchers_rules_add_and_remove(ws):
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await goto_stage(pilot, wizard, 4)
        stage = wizard.query_one(TriggerStage)
        watchers = stage.query_one(WatcherList)
        watchers.query_one("#watcher-add").press()
        await wait_for(pilot, lambda: len(watchers.rows) == 1 and watchers.rows[0].is_mounted,
                       what="a watcher row")
        await pilot.pause()
        row = watchers.rows[0]
        assert app.focused is row.query_one(Checkbox)  # a new watcher takes focus
        assert stage.problem() == "feed.watchers[0].to: must list at least one email address (got [])"
        row.query_one(".w-to", Input).value = "ops@example"
        assert "must be an email address like name@example.com" in stage.problem()
        row.query_one(".w-to", Input).value = "ops@example.com, dev@example.com"
        row.query_one(".ev-runtime_exceeded", Checkbox).value = True
        row.query_one(".ev-minutes", Input).value = "0"
        assert "runtime_minutes: must be a whole number >= 1" in stage.problem()
        await pilot.pause()
        assert "runtime_minutes" in str(row.query_one(".watcher-error").render())  # inline
        row.query_one(".ev-minutes", Input).value = "45"
        assert stage.problem() is None
        assert stage.get_values()["watchers"][0]["to"] == ["ops@example.com", "dev@example.com"]
        row.query_one(".w-channel", Select).value = "webhook"
        assert stage.problem() == "feed.watchers[0].name: is required for a webhook watcher (got '')"
        row.query_one(".w-name", Input).value = "ops"
        row.query_one(".w-url", Input).value = "hooks.example.com"
        assert "url: must be an http:// or https:// URL" in stage.problem()
        row.query_one(".w-url", Input).value = "https://hooks.example.com/x"
        row.query_one(".w-payload", Input).value = '{"feed": {feed}'
        assert "payload: must be a JSON template" in stage.problem()
        row.query_one(".w-payload", Input).value = '{"feed": "{feed}", "n": {records}}'
        assert stage.problem() is None
        assert stage.get_values()["watchers"] == [{
            "events": ["failure", "runtime_exceeded"], "runtime_minutes": 45, "channel": "webhook",
            "name": "ops", "url": "https://hooks.example.com/x",
            "payload": '{"feed": "{feed}", "n": {records}}'}]
        await pilot.pause()
        row.query_one(".w-remove").focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: watchers.rows == [], what="the watcher to go")
        assert stage.get_values()["watchers"] == [] and stage.problem() is None


async def test_escape_asks_before_discarding_and_save_creates_the_feed(ws):
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        await goto_stage(pilot, wizard, 2)
        await type_into(pilot, wizard.query_one(LoadStage).name_input, "sales")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("n")  # keep editing
        await wait_for(pilot, lambda: app.screen is wizard, what="back in the wizard")
        assert app.results == []
        assert wizard.check_action("save", ()) is True  # every stage is valid
        ws.feeds.save(Feed(name="sales", connection="api", script="x = 1\n"))  # someone else
        await goto_stage(pilot, wizard, 4)
        await pilot.press("ctrl+s")
        status = wizard.query_one("#wizard-status")
        await wait_for(pilot, lambda: "Not saved: feed.name: a feed named 'sales' already exists"
                       in str(status.render()), what="the engine's refusal")
        await wait_for(pilot, lambda: wizard.shown_step == 2, what="the name's stage")
        await fill(pilot, wizard.query_one(LoadStage).name_input, "sales2")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.results == ["sales2"], what="the wizard to dismiss")
        feed = ws.feeds.get("sales2")
        assert (feed.connection, feed.script) == ("api", demo.script("template"))
        assert feed.trigger == {"type": "manual"} and feed.destination == {"type": "local"}


async def test_escape_without_changes_leaves_at_once(ws):
    app = WizardHost(with_connection(ws))
    async with app.run_test(size=SIZE) as pilot:
        await opened(pilot)
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.results == [None], what="the wizard to close")


async def test_edit_prefills_and_keeps_the_name_read_only(ws, monkeypatch):
    freeze_clock(monkeypatch)
    ws.connections.add(Connection(name="api"))
    ws.connections.add(Connection(name="other"))
    ws.feeds.save(Feed(
        name="orders", connection="other", script="x = 1\n", dependencies=["orjson"],
        tags=["keep"], trigger={"type": "schedule", "cron": "0 0 6 * * ?", "timezone": "UTC"},
        watchers=[{"events": ["failure"], "channel": "email", "to": ["a@b.co"]}]))
    app = WizardHost(ws, "orders")
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        assert "Edit feed orders" in str(wizard.query_one("#wizard-title").render())
        values = wizard.values()  # the stages not shown yet hold the feed's values already
        assert values["connection"] == "other" and values["dependencies"] == ["orjson"]
        assert values["trigger"] == {"type": "schedule", "cron": "0 0 6 * * ?", "timezone": "UTC"}
        assert all(wizard.validity)
        await goto_stage(pilot, wizard, 2)
        name = wizard.query_one(LoadStage).name_input
        assert name.value == "orders" and name.disabled
        assert "cannot change once the feed is saved" in str(wizard.query_one("#name-note").render())
        await goto_stage(pilot, wizard, 4)
        stage = wizard.query_one(TriggerStage)
        assert stage.query_one(ScheduleForm).mode == "cron"
        assert stage.get_values() == {"trigger": values["trigger"], "watchers": values["watchers"]}
        assert stage.get_values()["watchers"][0]["to"] == ["a@b.co"]
        await goto_stage(pilot, wizard, 1)
        assert wizard.query_one(DependencyChips).values == ["orjson"]
        assert wizard.query_one(ScriptEditor).text == "x = 1\n"
        assert wizard.values() == values  # showing a stage changes nothing
        area = wizard.query_one(ScriptEditor).text_area
        assert isinstance(area, TextArea)
        area.load_text("x = 2\n")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.results == ["orders"], what="the wizard to dismiss")
        feed = ws.feeds.get("orders")
        assert feed.script == "x = 2\n" and feed.tags == ["keep"] and feed.connection == "other"
        assert feed.trigger["cron"] == "0 0 6 * * ?"
