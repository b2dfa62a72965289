"""The wizard inside the real app (make_app): Add opens it, Save lands back on Data Sources."""
from __future__ import annotations

from textual.widgets import Input
from wizard_host import goto_stage, opened, type_into, wait_for

from peak_tui.models import Connection
from peak_tui.tui import make_app
from screens.help import help_for
from screens.load_settings import LoadStage
from screens.wizard import FeedWizard

SIZE = (120, 40)


async def test_add_from_data_sources_saves_and_returns(ws):
    ws.connections.add(Connection(name="api"))
    app = make_app(ws.home)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: type(app.screen).__name__ == "DataSourcesScreen",
                       what="Data Sources")
        home = app.screen
        await pilot.press("a")
        wizard = await opened(pilot)
        assert isinstance(wizard, FeedWizard) and wizard.feed_name is None
        await pilot.press("f1")  # the shell's help shows the wizard's own words
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="help")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is wizard, what="back in the wizard")
        assert "Feed wizard: five stages" in help_for(app.focused, wizard)
        await goto_stage(pilot, wizard, 2)
        name = wizard.query_one(LoadStage).name_input
        assert isinstance(name, Input)
        await type_into(pilot, name, "shop")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.screen is home, what="Data Sources again")
        assert ws.feeds.get("shop").connection == "api"
