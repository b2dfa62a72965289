"""Connections and feeds in a real workspace: CRUD, fixed names, secrets at rest, feed state."""
from __future__ import annotations

from typing import Any

import pytest

from peak_tui.errors import Conflict, NotFound, ValidationError
from peak_tui.feeds import Feeds
from peak_tui.models import Connection, Feed
from peak_tui.workspace import Workspace

PASSWORD = "pw-Zq81-unique-basic"
HEADER_VALUE = "hdr-Kx93-unique-value"
BODY_VALUE = "body-Mv27-unique-secret"


def add_all(ws: Workspace) -> None:
    ws.connections.add(Connection(name="open"))
    ws.connections.add(Connection(name="basic", auth_type="basic", username="alice", password=PASSWORD))
    ws.connections.add(Connection(name="custom", auth_type="custom", auth_url="https://auth.example/t",
                                  headers={"X-Api-Key": HEADER_VALUE},
                                  body={"client_id": "cid", "nested": {"secret": BODY_VALUE}}))


def save_feed(ws: Workspace, name: str, connection: str = "open", **kw: Any) -> Feed:
    return ws.feeds.save(Feed(name=name, connection=connection, script="print('hi')\n", **kw))


def test_connection_crud_round_trip(ws: Workspace) -> None:
    add_all(ws)
    assert [c.name for c in ws.connections.list()] == ["basic", "custom", "open"]
    b = ws.connections.get("basic")
    assert (b.auth_type, b.username, b.password) == ("basic", "alice", PASSWORD)
    c = ws.connections.get("custom")
    assert c.headers == {"X-Api-Key": HEADER_VALUE}
    assert c.body == {"client_id": "cid", "nested": {"secret": BODY_VALUE}}
    public = ws.connections.get("custom", with_secrets=False)
    assert public.headers == {"X-Api-Key": ""} and public.body is None and public.password == ""
    shown = c.public_dict()
    assert shown["headers"] == {"X-Api-Key": "****"}
    assert shown["body"] == {"client_id": "****", "nested": {"secret": "****"}}
    assert b.public_dict()["password"] == "****"
    updated = ws.connections.update("basic", username="bob", password="new-secret-1")
    assert updated.updated_at >= updated.created_at
    again = ws.connections.get("basic")
    assert (again.username, again.password) == ("bob", "new-secret-1")
    ws.connections.update("custom", headers={"X-Other": "v2"}, body='{"a": 1}')
    assert ws.connections.get("custom").headers == {"X-Other": "v2"}
    assert ws.connections.get("custom").body == {"a": 1}
    ws.connections.delete("open")
    assert not ws.connections.exists("open")
    with pytest.raises(NotFound, match=r"^no connection named 'open'$"):
        ws.connections.get("open")
    with pytest.raises(NotFound, match=r"^no connection named 'open'$"):
        ws.connections.delete("open")


def test_duplicate_and_immutable_fields(ws: Workspace) -> None:
    add_all(ws)
    with pytest.raises(Conflict) as dup:
        ws.connections.add(Connection(name="basic"))
    assert dup.value.message == "connection.name: a connection named 'basic' already exists"
    with pytest.raises(ValidationError) as renamed:
        ws.connections.update("basic", name="basic2")
    assert str(renamed.value) == "connection.name: cannot change after the connection is saved (got 'basic2')"
    with pytest.raises(ValidationError) as retyped:
        ws.connections.update("basic", auth_type="custom")
    assert str(retyped.value) == (
        "connection.auth_type: cannot change after the connection is saved (got 'custom')")
    with pytest.raises(ValidationError) as unknown:
        ws.connections.update("basic", colour="red")
    assert str(unknown.value) == "connection: has no editable field 'colour' (got 'colour')"
    with pytest.raises(ValidationError) as emptied:
        ws.connections.update("basic", password="")
    assert str(emptied.value) == "connection.password: is required for Basic Auth"
    assert ws.connections.get("basic").password == PASSWORD  # a refused edit changes nothing
    # unchanged name / auth type given back is fine
    ws.connections.update("basic", name="basic", auth_type="basic", username="carol")
    assert ws.connections.get("basic").username == "carol"


def test_connection_in_use_cannot_be_deleted(ws: Workspace) -> None:
    add_all(ws)
    save_feed(ws, "zeta", "basic")
    save_feed(ws, "alpha", "basic")
    with pytest.raises(Conflict) as info:
        ws.connections.delete("basic")
    assert info.value.message == (
        "connection 'basic' is used by 2 feed(s): alpha, zeta; change or delete those feeds first")
    assert ws.connections.used_by("basic") == ["alpha", "zeta"]
    ws.feeds.delete("alpha")
    ws.feeds.delete("zeta")
    ws.connections.delete("basic")
    assert not ws.connections.exists("basic")


def test_secrets_are_encrypted_at_rest(ws: Workspace) -> None:
    add_all(ws)
    ws.connections.update("basic", password=PASSWORD + "-v2")
    blob = b"".join(p.read_bytes() for p in ws.home.glob("peak.db*"))
    assert b"alice" in blob  # the raw file is readable: plain config is there ...
    for secret in (PASSWORD, PASSWORD + "-v2", HEADER_VALUE, BODY_VALUE):
        assert secret.encode() not in blob  # ... but no secret is
    rows = ws.store.query("SELECT name, secrets FROM connections")
    assert all(r["secrets"].startswith("enc:v1:") for r in rows)


def test_feed_save_get_update(ws: Workspace) -> None:
    add_all(ws)
    f = save_feed(ws, "orders", tags=["fin"], dependencies=["Requests>=2"])
    got = ws.feeds.get("orders")
    assert got == f and got.dependencies == ["requests>=2"]
    assert (got.destination, got.trigger, got.paused) == ({"type": "local"}, {"type": "manual"}, False)
    got.script = "print('v2')\n"
    got.connection = "basic"
    ws.feeds.save(got, create=False)
    again = ws.feeds.get("orders")
    assert (again.script, again.connection, again.created_at) == ("print('v2')\n", "basic", f.created_at)
    with pytest.raises(Conflict) as dup:
        ws.feeds.save(Feed(name="orders", connection="open", script="x=1"), create=True)
    assert dup.value.message == "feed.name: a feed named 'orders' already exists"
    with pytest.raises(Conflict) as twin:
        save_feed(ws, "Orders")
    assert twin.value.message == ("feed.name: 'Orders' differs only in case from the feed 'orders'; "
                                  "both would load into one warehouse table")
    with pytest.raises(NotFound, match=r"^no feed named 'missing'$"):
        ws.feeds.save(Feed(name="missing", connection="open", script="x=1"), create=False)
    with pytest.raises(ValidationError) as noconn:
        save_feed(ws, "other", "nosuch")
    assert str(noconn.value) == "feed.connection: must name an existing connection (got 'nosuch')"
    assert [s.name for s in ws.feeds.list()] == ["orders"]


def test_destination_must_be_offered(ws: Workspace) -> None:
    add_all(ws)
    ws.store.set_setting("warehouse.kind", "snowflake")
    with pytest.raises(ValidationError) as info:
        save_feed(ws, "orders")
    assert str(info.value) == ("feed.destination: is not offered by this workspace's warehouse "
                               "(snowflake); choose one of snowflake (got 'local')")
    assert not ws.feeds.exists("orders")


def test_feed_list_filters_pause_tags_and_delete(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    add_all(ws)
    saved: list[str] = []
    monkeypatch.setattr(Feeds, "on_saved", [lambda w, feed: saved.append(feed.name)])
    save_feed(ws, "orders", tags=["fin", "daily"])
    save_feed(ws, "invoices", tags=["fin"])
    save_feed(ws, "users", tags=["crm"])
    assert saved == ["orders", "invoices", "users"]
    run_id = ws.runs.start("orders", "manual", "req-1", {})
    ws.runs.finish(run_id, "succeeded", records=7, log_text="ok\n", committed=("req-1", {"c": 1}))
    failed = ws.runs.start("invoices", "manual", "req-2", {})
    ws.runs.finish(failed, "failed", error="boom", log_text="bad\n")

    def names(**kw: Any) -> list[str]:
        return [s.name for s in ws.feeds.list(**kw)]

    assert names() == ["invoices", "orders", "users"]
    assert names(name="OICE") == ["invoices"]
    assert names(tag="FIN") == ["invoices", "orders"]
    assert names(status="succeeded") == ["orders"]
    assert names(status="failed") == ["invoices"]
    assert names(status="never") == ["users"]
    summary = {s.name: s for s in ws.feeds.list()}["orders"]
    assert (summary.last_status, summary.last_records, summary.last_run_id) == ("succeeded", 7, run_id)
    assert ws.feeds.metadata("orders") == {"c": 1}
    ws.feeds.set_paused("users", True)
    assert names(status="paused") == ["users"] and ws.feeds.get("users").paused is True
    ws.feeds.set_paused("users", False)
    assert ws.feeds.get("users").paused is False and names(status="paused") == []
    assert ws.feeds.set_tags("users", ["crm", "eu", "crm"]) == ["crm", "eu"]
    assert ws.feeds.get("users").tags == ["crm", "eu"]
    with pytest.raises(ValidationError):
        ws.feeds.set_tags("users", ["bad tag"])
    assert ws.feeds.get("users").tags == ["crm", "eu"]
    for call in (lambda: ws.feeds.set_paused("nope", True), lambda: ws.feeds.set_tags("nope", []),
                 lambda: ws.feeds.delete("nope"), lambda: ws.feeds.metadata("nope")):
        with pytest.raises(NotFound, match=r"^no feed named 'nope'$"):
            call()
    ws.feeds.delete("orders")
    assert not ws.feeds.exists("orders")
    assert ws.runs.list("orders") == [] and ws.store.query("SELECT * FROM run_logs WHERE run_id=?",
                                                             (run_id,)) == []
    assert [r.feed for r in ws.runs.list()] == ["invoices"]
