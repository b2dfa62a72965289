"""The connection form: name, auth type, and the auth settings of the chosen type (Select + ContentSwitcher)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import ContentSwitcher, Input, Select, Static, TextArea

from peak_tui import validation as v
from peak_tui.errors import ValidationError
from peak_tui.models import Connection
from peak_tui.widgets.key_value import KeyValueEditor
from screens.wizard_form import Field, compact_input, field_of, rule_problem

AUTH_CHOICES = [(v.AUTH_LABELS[k], k) for k in v.AUTH_TYPES]
EMPTY: dict[str, Any] = {"name": "", "auth_type": "none", "username": "", "password": "",
                         "auth_url": "", "headers": {}, "body": ""}


def _required(field: str) -> Callable[[str], None]:
    def rule(value: str) -> None:
        if not value:
            raise ValidationError(field, "is required for Basic Auth", None, show_value=False)
    return rule


class ConnectionForm(Vertical):
    """Edit one connection; name and auth type turn read-only once it is saved."""

    DEFAULT_CSS = """
    ConnectionForm { height: auto; }
    ConnectionForm ContentSwitcher { height: auto; }
    ConnectionForm #auth-none { color: $text-muted; margin-bottom: 1; }
    ConnectionForm #conn-headers-title { color: $text-muted; }
    ConnectionForm #conn-body { height: 6; width: 1fr; }
    """

    def __init__(self, *, taken: Callable[[str], bool], id: str | None = None) -> None:
        super().__init__(id=id)
        self.taken = taken
        self.saved = False
        self.touched: set[str] = set()

    def compose(self) -> ComposeResult:
        """Name, auth type and one form per auth type."""
        yield Field("Name", compact_input("conn-name", placeholder="letters and digits, e.g. salesapi",
                                          rule=self._name_rule),
                    hint="Alphanumeric; fixed once saved.", id="conn-name-field")
        yield Field("Auth type", Select(AUTH_CHOICES, value="none", allow_blank=False, compact=True,
                                        id="conn-auth"))
        with ContentSwitcher(initial="auth-none", id="auth-forms"):
            yield Static("No authentication: the script's requests go out as written.", id="auth-none")
            with Vertical(id="auth-basic"):
                yield Field("Username", compact_input("conn-username",
                                                      rule=_required("connection.username")))
                yield Field("Password", compact_input("conn-password", password=True,
                                                      rule=_required("connection.password")))
            with Vertical(id="auth-custom"):
                yield Field("Auth URL", compact_input(
                    "conn-auth-url", placeholder="https://api.example.com/oauth/token",
                    rule=lambda s: v.http_url("connection.auth_url", s)),
                    hint="Called before each run; the token goes to the script.")
                yield Static("Request headers (values are hidden)", id="conn-headers-title")
                yield Field("Headers", KeyValueEditor(key_rule=v.header_name, id="conn-headers"))
                yield Field("JSON body", TextArea("", soft_wrap=True, id="conn-body"),
                            hint="A JSON object sent to the auth URL; empty for none.")

    # values -----------------------------------------------------------------------------------
    def get_values(self) -> dict[str, Any]:
        """What the form holds now."""
        return {
            "name": self.query_one("#conn-name", Input).value.strip(),
            "auth_type": self.auth_type,
            "username": self.query_one("#conn-username", Input).value,
            "password": self.query_one("#conn-password", Input).value,
            "auth_url": self.query_one("#conn-auth-url", Input).value.strip(),
            "headers": dict(self.query_one(KeyValueEditor).get_pairs()),
            "body": self.query_one("#conn-body", TextArea).text,
        }

    def set_values(self, values: dict[str, Any], *, saved: bool) -> None:
        """Fill the form; a saved connection keeps its name and auth type read-only."""
        with self.prevent(Input.Changed, TextArea.Changed, KeyValueEditor.Changed, Select.Changed):
            self._fill({**EMPTY, **values}, saved)
        for inp in self.query(Input):
            inp.remove_class("-invalid")
        for f in self.query(Field):
            f.set_error(None)

    def _fill(self, values: dict[str, Any], saved: bool) -> None:
        self.saved = saved
        self.touched.clear()
        name = self.query_one("#conn-name", Input)
        name.value = values["name"]
        name.disabled = saved
        auth = self.query_one("#conn-auth", Select)
        auth.value = values["auth_type"]
        auth.disabled = saved
        self.query_one("#auth-forms", ContentSwitcher).current = f"auth-{values['auth_type']}"
        self.query_one("#conn-username", Input).value = values["username"] or ""
        self.query_one("#conn-password", Input).value = values["password"] or ""
        self.query_one("#conn-auth-url", Input).value = values["auth_url"] or ""
        self.query_one(KeyValueEditor).set_pairs(values["headers"] or {})
        body = values["body"]
        if body is not None and not isinstance(body, str):
            import json

            body = json.dumps(body, indent=2)
        self.query_one("#conn-body", TextArea).text = body or ""
        hint = "Fixed once saved." if saved else "Alphanumeric; fixed once saved."
        self.query_one("#conn-name-field", Field).query_one(".field-hint", Static).update(hint)

    @property
    def auth_type(self) -> str:
        """The chosen auth type key."""
        value = self.query_one("#conn-auth", Select).value
        return value if isinstance(value, str) else "none"

    def to_connection(self) -> Connection:
        """The connection the form describes (not validated)."""
        d = self.get_values()
        conn = Connection(name=d["name"], auth_type=d["auth_type"])
        if conn.auth_type == "basic":
            conn.username, conn.password = d["username"], d["password"]
        elif conn.auth_type == "custom":
            conn.auth_url, conn.headers, conn.body = d["auth_url"], d["headers"], d["body"] or None
        return conn

    # rules ------------------------------------------------------------------------------------
    def _name_rule(self, value: str) -> None:
        if self.saved:
            return
        v.connection_name(value)
        if self.taken(value):
            raise ValidationError("connection.name", "is already taken by another connection", value)

    def problems(self) -> dict[str, str]:
        """Widget id -> the rule it breaks, for every broken field of the current auth type."""
        d = self.get_values()
        out: dict[str, str] = {}
        checks: list[tuple[str, Callable[[Any], Any], Any]] = [("conn-name", self._name_rule, d["name"])]
        if d["auth_type"] == "basic":
            checks += [("conn-username", _required("connection.username"), d["username"]),
                       ("conn-password", _required("connection.password"), d["password"])]
        elif d["auth_type"] == "custom":
            checks += [("conn-auth-url", lambda s: v.http_url("connection.auth_url", s), d["auth_url"]),
                       ("conn-body", v.json_body, d["body"])]
        for wid, rule, value in checks:
            msg = rule_problem(rule, value)
            if msg:
                out[wid] = msg
        if d["auth_type"] == "custom":
            msg = self.query_one(KeyValueEditor).problem()
            if msg:
                out["conn-headers"] = msg
        return out

    def problem(self) -> str | None:
        """The first broken rule, in form order."""
        found = self.problems()
        for wid in ("conn-name", "conn-username", "conn-password", "conn-auth-url", "conn-headers",
                    "conn-body"):
            if wid in found:
                return found[wid]
        return None

    def reveal_problems(self) -> Widget | None:
        """Show every error; return the first bad widget."""
        found = self.problems()
        first = None
        for wid in ("conn-name", "conn-username", "conn-password", "conn-auth-url", "conn-headers",
                    "conn-body"):
            widget = self.query_one(f"#{wid}")
            field = field_of(widget)
            if field is not None:
                field.set_error(found.get(wid))
            if wid in found and first is None:
                first = widget
        return first

    def _show(self, wid: str) -> None:
        self.touched.add(wid)
        field = field_of(self.query_one(f"#{wid}"))
        if field is not None:
            field.set_error(self.problems().get(wid))

    # events -----------------------------------------------------------------------------------
    @on(Select.Changed, "#conn-auth")
    def _auth_changed(self, event: Select.Changed) -> None:
        self.query_one("#auth-forms", ContentSwitcher).current = f"auth-{self.auth_type}"

    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("conn-"):
            self._show(event.input.id)

    @on(TextArea.Changed, "#conn-body")
    def _body_changed(self, event: TextArea.Changed) -> None:
        self._show("conn-body")

    @on(KeyValueEditor.Changed)
    def _headers_changed(self, event: KeyValueEditor.Changed) -> None:
        self._show("conn-headers")
