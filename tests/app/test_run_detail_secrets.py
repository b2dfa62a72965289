"""Run detail masks known secrets in the metadata it shows (stored verbatim for the next run)."""
from __future__ import annotations

import uuid

from app_fixtures import wait_for
from textual.widgets import Static

from peak_tui.app import PeakApp
from peak_tui.models import Connection, Feed
from screens.run_detail import RunDetailScreen

SECRET = "s3cr3t-Pa55word-" + uuid.uuid4().hex[:8]


async def test_run_detail_masks_secrets_in_metadata(ws):
    ws.connections.add(Connection(name="api", auth_type="basic", username="u", password=SECRET))
    ws.feeds.save(Feed(name="leaky", connection="api", script="x = 1\n"))
    run_id = ws.runs.start("leaky", "manual", uuid.uuid4().hex, {"token": SECRET})
    ws.runs.finish(run_id, "succeeded", metadata_after={"cursor": 7, "token": SECRET},
                   committed=("r", {"cursor": 7, "token": SECRET}), log_text="done\n")
    assert ws.feeds.metadata("leaky")["token"] == SECRET  # stored verbatim for the next run
    app = PeakApp(ws)
    async with app.run_test(size=(120, 40)) as pilot:
        app.push_screen(RunDetailScreen(run_id))
        screen = await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen)
                                and app.screen.run is not None and app.screen, what="detail")
        shown = str(screen.query_one("#run-metadata", Static).render())
        assert '"cursor": 7' in shown or '"cursor":7' in shown
        assert SECRET not in shown
        assert "****" in shown
