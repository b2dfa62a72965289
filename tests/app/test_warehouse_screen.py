"""The Warehouse settings screen, driven with the keyboard: switch kind, fill in, test, save."""
from __future__ import annotations

from textual.app import App
from textual.widgets import Input, Select

from peak_tui import warehouse
from peak_tui.workspace import Workspace
from screens.warehouse import WarehouseScreen
from tests.app.wizard_host import wait_for
from tests.services import (  # noqa: F401 - fixtures
    aws_env,
    moto_server,
    pg_cluster,
    redshift_pg,
    redshift_values,
    s3_bucket,
)


class Host(App[None]):
    """Pushes the screen and records what it dismisses with."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.results: list[str | None] = []

    def on_mount(self) -> None:
        """Open the screen."""
        self.push_screen(WarehouseScreen(self.ws), self.results.append)


def _status(screen: WarehouseScreen) -> str:
    return str(screen.query_one("#wh-status").render())


async def test_fill_test_and_save_redshift(ws, moto_server, s3_bucket, redshift_pg) -> None:  # noqa: F811
    app = Host(ws)
    async with app.run_test(size=(100, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, WarehouseScreen)
        await wait_for(pilot, lambda: screen.public is not None, what="settings to load")
        screen.query_one("#wh-kind", Select).value = "redshift"
        await pilot.pause()
        values = redshift_values(moto_server, s3_bucket, redshift_pg)
        values["bucket"] = "Bad_Bucket"
        for key, value in values.items():
            screen.query_one(f"#redshift-{key}", Input).value = value
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "must be an S3 bucket name" in _status(screen), what="error")
        assert app.focused is screen.query_one("#redshift-bucket", Input)
        assert ws.warehouse_kind() == "local"

        screen.query_one("#redshift-bucket", Input).value = "missing-bucket-1"
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "connection FAILED" in _status(screen), what="a verdict")
        assert "missing-bucket-1" in _status(screen)
        screen.query_one("#redshift-bucket", Input).value = s3_bucket
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: "connection OK" in _status(screen), what="an OK verdict")

        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: _status(screen).startswith("Saved"), what="the save")
        assert ws.warehouse_kind() == "redshift"
        assert warehouse.settings(ws, "redshift")["bucket"] == s3_bucket
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.results == ["redshift"], what="the screen to close")


async def test_snowflake_auth_switch_and_unsaved_escape(ws) -> None:
    app = Host(ws)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await wait_for(pilot, lambda: screen.public is not None, what="settings to load")
        screen.query_one("#wh-kind", Select).value = "snowflake"
        await pilot.pause()
        assert not screen.query_one("#row-snowflake-private_key").display
        screen.query_one("#snowflake-auth", Select).value = "keypair"
        await pilot.pause()
        assert screen.query_one("#row-snowflake-private_key").display
        assert not screen.query_one("#row-snowflake-password").display
        await pilot.press("escape")  # unsaved: the first Escape warns
        assert "Unsaved changes" in _status(screen) and app.results == []
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.results == [None], what="the screen to close")
        assert ws.warehouse_kind() == "local"
