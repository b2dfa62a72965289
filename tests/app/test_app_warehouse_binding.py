"""The app opens the warehouse settings from anywhere with F3, and Escape returns to Data Sources."""
from __future__ import annotations

from pathlib import Path

import pytest

from peak_tui.tui import make_app


async def test_f3_opens_warehouse_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    app = make_app(tmp_path / "ws")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        start = type(app.screen).__name__
        await pilot.press("f3")
        await pilot.pause()
        assert type(app.screen).__name__ == "WarehouseScreen"
        await pilot.press("escape")
        await pilot.pause()
        assert type(app.screen).__name__ == start == "DataSourcesScreen"
