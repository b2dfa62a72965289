"""A secret the script saves in its metadata: stored verbatim (it must round-trip), masked wherever shown.

Metadata is data the script chose to keep, like its records: the engine does not rewrite it, or an
incremental feed that keeps a session key would break. Every place that shows metadata (feed show,
feed test, runs --json, feed run --json, the run log) masks the workspace's known secrets in it.
"""
from __future__ import annotations

import json
import secrets
from pathlib import Path

from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

from .secret_forms import find_leaks, probes_for
from .support import run_cli, run_cli_batch

SAVER = """\
from lib import outputStream, metadata, connection
if metadata:
    assert metadata["api_key"] == connection.password, "the metadata did not round-trip"
outputStream.write({"id": metadata.get("cursor", 0), "roundtrip": bool(metadata)})
metadata.save({"api_key": connection.password, "cursor": metadata.get("cursor", 0) + 1})
"""


def test_secret_in_metadata_is_kept_verbatim_but_masked_when_shown(ws: Workspace) -> None:
    core = secrets.token_hex(12)
    password = f"meta-{core}/ä"
    ws.connections.add(Connection(name="keeper", auth_type="basic", username="u", password=password))
    ws.feeds.save(Feed(name="saver", connection="keeper", script=SAVER))
    first = run_cli(ws.home, "feed", "run", "saver")
    assert first.returncode == 0, first.stdout + first.stderr
    results, batch_err = run_cli_batch(ws.home, ["feed", "run", "saver", "--json"],
                                       ["feed", "show", "saver", "--json"], ["feed", "show", "saver"],
                                       ["feed", "test", "saver", "--json"], ["runs", "--json"],
                                       ["runs", "saver", "--json"], ["logs", "1"], ["logs", "2"])
    assert [c for _, c, _, _ in results] == [0] * len(results), results
    out = {" ".join(a[2:]): o for a, _, o, _ in results}

    # stored as saved: the second run read the exact value back (its script asserts it)
    assert ws.feeds.metadata("saver") == {"api_key": password, "cursor": 2}
    assert ws.local.query("SELECT id, roundtrip FROM saver ORDER BY id")[1] == [(0, 0), (1, 1)]

    masked = {"api_key": "****", "cursor": 2}
    assert json.loads(out["feed run saver --json"])["metadata_after"] == masked
    assert json.loads(out["feed show saver --json"])["metadata"] == masked
    assert '# metadata: {"api_key": "****", "cursor": 2}' in out["feed show saver"]
    test = json.loads(out["feed test saver --json"])
    assert test["ok"] and test["metadata_before"] == masked
    assert test["metadata_after"] == {"api_key": "****", "cursor": 3}
    newest = json.loads(out["runs --json"])[0]
    assert newest["metadata_before"] == {"api_key": "****", "cursor": 1}
    assert newest["metadata_after"] == masked
    assert 'committed 1 records and metadata {"api_key":"****","cursor":2}' in out["logs 2"]

    probes = probes_for({"password": (password, core)})
    shown = first.stdout + first.stderr + batch_err + "".join(o + e for _, _, o, e in results)
    assert find_leaks(shown.encode(), probes) == []
    # the raw database does hold it (as data); this is what keeps the scan above honest
    stored = b"".join(p.read_bytes() for p in Path(ws.home, "warehouse").iterdir())
    assert find_leaks(stored, probes)
