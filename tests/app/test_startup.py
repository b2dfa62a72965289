"""Start-up: garbage collection pauses while the app starts and resumes after its first frame."""
from __future__ import annotations

import gc
from pathlib import Path

import pytest
from app_fixtures import wait_for

from peak_tui.tui import make_app


async def test_collection_pauses_for_start_up_only(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """make_app turns collection off (start-up builds long-lived objects); the app turns it back on
    after its first frame, with what start-up built frozen."""
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    frozen_before = gc.get_freeze_count()
    try:
        app = make_app(tmp_path / "ws")
        assert not gc.isenabled()
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, gc.isenabled, what="collection to resume")
            assert gc.get_freeze_count() > frozen_before
    finally:
        gc.enable()


def test_a_failing_start_leaves_collection_on(tmp_path: Path) -> None:
    """If the app cannot be built (the home is a file), collection is not left off."""
    home = tmp_path / "not-a-dir"
    home.write_text("x")
    try:
        with pytest.raises(OSError):
            make_app(home)
        assert gc.isenabled()
    finally:
        gc.enable()
