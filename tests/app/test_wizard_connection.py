"""Stage 1 of the feed wizard: pick, create, edit and delete connections, with the engine's rules."""
from __future__ import annotations

from textual.widgets import Input, Select, TextArea
from wizard_host import WizardHost, fill, opened, type_into, wait_for

from peak_tui.models import Connection, Feed
from peak_tui.widgets.key_value import KeyValueEditor
from screens.connection import NEW, ConnectionStage
from screens.connection_form import ConnectionForm
from screens.wizard_form import Field, field_of

SIZE = (120, 40)


def error_of(widget) -> str | None:
    field = field_of(widget)
    assert isinstance(field, Field)
    return field.error


def stage_of(wizard) -> ConnectionStage:
    return wizard.query_one(ConnectionStage)


async def test_name_is_validated_as_you_type(ws):
    ws.connections.add(Connection(name="taken"))
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = stage_of(wizard)
        stage.query_one("#conn-list").highlighted = 0  # + New connection
        await pilot.pause()
        name = wizard.query_one("#conn-name", Input)
        await type_into(pilot, name, "sales-api")
        assert error_of(name) == ("connection.name: must be alphanumeric (letters and digits only) "
                                  "(got 'sales-api')")
        assert name.has_class("-invalid")
        await fill(pilot, name, "x" * 65)
        assert "must be at most 64 characters" in error_of(name)
        await type_into(pilot, name, "taken")
        assert error_of(name) == ("connection.name: is already taken by another connection "
                                  "(got 'taken')")
        await fill(pilot, name, "salesapi")
        assert error_of(name) is None
        assert stage.problem() is None


async def test_next_refuses_with_a_message_while_invalid(ws):
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        assert wizard.check_action("next", ()) is None  # shown, but disabled
        await pilot.press("ctrl+n")
        assert wizard.step == 0
        status = str(wizard.query_one("#wizard-status").render())
        assert "pick one from the list, or name a new one" in status
        await type_into(pilot, wizard.query_one("#conn-name", Input), "bad name")
        wizard.query_one("#nav-next").press()
        await pilot.pause()
        assert wizard.step == 0
        assert "must be alphanumeric" in str(wizard.query_one("#wizard-status").render())


async def test_basic_auth_requires_username_and_password_and_masks_it(ws):
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        form = wizard.query_one(ConnectionForm)
        await fill(pilot, wizard.query_one("#conn-name", Input), "crm")
        wizard.query_one("#conn-auth", Select).value = "basic"
        await pilot.pause()
        assert form.problem() == "connection.username: is required for Basic Auth"
        assert wizard.query_one("#conn-password", Input).password is True
        await fill(pilot, wizard.query_one("#conn-username", Input), "ann")
        assert form.problem() == "connection.password: is required for Basic Auth"
        await fill(pilot, wizard.query_one("#conn-password", Input), "s3cret")
        assert form.problem() is None
        await pilot.press("ctrl+n")  # Next saves the new connection, then moves on
        await wait_for(pilot, lambda: wizard.step == 1, what="stage 2")
        saved = ws.connections.get("crm")
        assert (saved.auth_type, saved.username, saved.password) == ("basic", "ann", "s3cret")


async def test_custom_auth_url_headers_and_json_body(ws):
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        form = wizard.query_one(ConnectionForm)
        await fill(pilot, wizard.query_one("#conn-name", Input), "billing")
        wizard.query_one("#conn-auth", Select).value = "custom"
        await pilot.pause()
        url = wizard.query_one("#conn-auth-url", Input)
        await fill(pilot, url, "ftp://x")
        assert error_of(url) == ("connection.auth_url: must be an http:// or https:// URL "
                                 "(got 'ftp://x')")
        await fill(pilot, url, "https://auth.example.com/token")
        assert error_of(url) is None
        editor = wizard.query_one(KeyValueEditor)
        editor.query_one("#kv-add").press()
        await pilot.pause()
        row = editor.rows[0]
        assert row.query_one(".kv-value", Input).password is True  # header values are secrets
        await fill(pilot, row.query_one(".kv-key", Input), "X Api Key")
        assert "a header name must be a non-empty HTTP token" in form.problem()
        assert row.query_one(".kv-key", Input).has_class("-invalid")
        await fill(pilot, row.query_one(".kv-key", Input), "X-Api-Key")
        await fill(pilot, row.query_one(".kv-value", Input), "k1")
        await pilot.press("enter")  # Enter in a value adds the next row
        await wait_for(pilot, lambda: len(editor.rows) == 2, what="a second header row")
        second = editor.rows[1]
        await fill(pilot, second.query_one(".kv-key", Input), "x-api-key")
        await fill(pilot, second.query_one(".kv-value", Input), "k2")
        assert form.problem() == "connection.headers: the header 'x-api-key' appears twice"
        second.query_one(".kv-remove").focus()
        await pilot.press("enter")  # removes the row from the keyboard
        await wait_for(pilot, lambda: len(editor.rows) == 1, what="the row to go")
        assert form.problem() is None
        body = wizard.query_one("#conn-body", TextArea)
        body.load_text('{"client_id": ')
        await pilot.pause()
        assert error_of(body).startswith("connection.body: must be valid JSON: Expecting value")
        body.load_text("[1, 2]")
        await pilot.pause()
        assert error_of(body) == "connection.body: must be a JSON object ({...})"
        body.load_text('{"client_id": "a", "client_secret": "b"}')
        await pilot.pause()
        assert error_of(body) is None
        stage_of(wizard).action_save_connection()
        await wait_for(pilot, lambda: ws.connections.exists("billing"), what="the save")
        conn = ws.connections.get("billing")
        assert conn.headers == {"X-Api-Key": "k1"}
        assert conn.body == {"client_id": "a", "client_secret": "b"}
        assert conn.auth_url == "https://auth.example.com/token"


async def test_saved_connection_keeps_name_and_auth_read_only_and_edits_the_rest(ws):
    ws.connections.add(Connection(name="crm", auth_type="basic", username="ann", password="old"))
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = stage_of(wizard)
        await wait_for(pilot, lambda: "crm" in stage.stored, what="the connection's details")
        assert stage.current == "crm"
        assert wizard.query_one("#conn-name", Input).disabled
        assert wizard.query_one("#conn-auth", Select).disabled
        password = wizard.query_one("#conn-password", Input)
        assert password.value == "old" and password.password
        await fill(pilot, password, "new")
        assert stage.dirty and stage.check_action("save_connection", ())
        await pilot.press("ctrl+s")  # on stage 1, with changes, ctrl+s saves the connection
        await wait_for(pilot, lambda: ws.connections.get("crm").password == "new", what="update")
        assert not stage.dirty


async def test_delete_refused_while_a_feed_uses_it_then_allowed(ws):
    ws.connections.add(Connection(name="used"))
    ws.connections.add(Connection(name="spare"))
    ws.feeds.save(Feed(name="orders", connection="used", script="print(1)\n"))
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = stage_of(wizard)
        olist = stage.query_one("#conn-list")
        olist.focus()
        olist.highlighted = 2  # + New, spare, used
        await wait_for(pilot, lambda: stage.current == "used", what="'used' highlighted")
        await pilot.press("delete")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y")
        status = stage.query_one("#conn-status")
        await wait_for(pilot, lambda: "used by 1 feed(s): orders" in str(status.render()),
                       what="the refusal")
        assert ws.connections.exists("used")
        olist.highlighted = 1
        await wait_for(pilot, lambda: stage.current == "spare", what="'spare' highlighted")
        stage.query_one("#conn-delete").press()
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: not ws.connections.exists("spare"), what="the delete")
        await wait_for(pilot, lambda: stage.names is not None and "spare" not in stage.names,
                       what="the list to update")
        assert stage.current == NEW


async def test_switching_entries_keeps_a_draft(ws):
    ws.connections.add(Connection(name="crm"))
    app = WizardHost(ws)
    async with app.run_test(size=SIZE) as pilot:
        wizard = await opened(pilot)
        stage = stage_of(wizard)
        olist = stage.query_one("#conn-list")
        olist.highlighted = 0
        await pilot.pause()
        await fill(pilot, wizard.query_one("#conn-name", Input), "draft1")
        olist.highlighted = 1
        await wait_for(pilot, lambda: stage.current == "crm")
        olist.highlighted = 0
        await wait_for(pilot, lambda: stage.current == NEW)
        assert wizard.query_one("#conn-name", Input).value == "draft1"
