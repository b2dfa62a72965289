"""The warehouse settings form: a kind selector and, per kind, one labelled field per setting."""
from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ContentSwitcher, Input, Label, Select, Static, TextArea

from peak_tui.warehouse_rules import FIELDS, KIND_LABELS, KINDS, SNOWFLAKE_AUTH, secret_keys

KEYPAIR_ONLY = ("private_key_path", "private_key", "private_key_passphrase")
LOCAL_TEXT = ("The embedded local warehouse: one SQLite file in the workspace, one table per feed. "
              "Nothing to configure. Feeds load into the Local destination.")
KEEP = "saved - leave empty to keep"


class WarehouseForm(Vertical):
    """Kind + its fields; secret fields show only whether a value is saved."""

    DEFAULT_CSS = """
    WarehouseForm { height: auto; }
    WarehouseForm #wh-kind { width: 40; margin-bottom: 1; }
    WarehouseForm .wh-row { height: auto; margin-bottom: 1; }
    WarehouseForm .wh-label { width: 20; }
    WarehouseForm .wh-row Input { width: 1fr; }
    WarehouseForm .wh-row TextArea { width: 1fr; height: 5; }
    WarehouseForm .wh-row.-hidden { display: none; }
    WarehouseForm ContentSwitcher { height: auto; }
    """

    def compose(self) -> ComposeResult:
        """The kind selector and one form per kind."""
        yield Select([(KIND_LABELS[k], k) for k in KINDS], value="local", allow_blank=False,
                     id="wh-kind", compact=True)
        with ContentSwitcher(initial="form-local"):
            yield Static(LOCAL_TEXT, id="form-local")
            for kind in KINDS[1:]:
                with Vertical(id=f"form-{kind}"):
                    for f in FIELDS[kind]:
                        with Horizontal(classes="wh-row", id=f"row-{kind}-{f.key}"):
                            yield Label(f.label, classes="wh-label")
                            yield self._field(kind, f.key, f.help, f.secret)

    @staticmethod
    def _field(kind: str, key: str, help_text: str, secret: bool) -> Any:
        wid = f"{kind}-{key}"
        if key == "auth":
            return Select([(a, a) for a in SNOWFLAKE_AUTH], value="password", allow_blank=False,
                          id=wid, compact=True)
        if key == "private_key":
            area = TextArea(id=wid, soft_wrap=False)
            area.border_subtitle = "paste PEM; empty keeps the saved key"
            return area
        return Input(placeholder=help_text, password=secret, id=wid, compact=True)

    @property
    def kind(self) -> str:
        """The kind chosen."""
        return str(self.query_one("#wh-kind", Select).value)

    def widget(self, kind: str, key: str) -> Any:
        """The input of one setting."""
        return self.query_one(f"#{kind}-{key}")

    def values(self) -> dict[str, str]:
        """The chosen kind's settings (empty secrets left out: they keep the saved value)."""
        out: dict[str, str] = {}
        for f in FIELDS[self.kind]:
            w = self.widget(self.kind, f.key)
            val = str(w.value) if isinstance(w, (Input, Select)) else str(getattr(w, "text", ""))
            if f.secret and not val:
                continue
            out[f.key] = val
        return out

    def load(self, public: dict[str, Any]) -> None:
        """Show saved settings (secrets only as 'saved') and select the current kind."""
        for kind in KINDS[1:]:
            for f in FIELDS[kind]:
                w, saved = self.widget(kind, f.key), public[kind].get(f.key, "")
                if f.secret:
                    if isinstance(w, Input):
                        w.placeholder = KEEP if saved else f.help
                elif isinstance(w, Select):
                    w.value = saved or f.default
                elif isinstance(w, Input):
                    w.value = saved
        self.query_one("#wh-kind", Select).value = public["kind"]

    def saved(self, kind: str, public: dict[str, Any]) -> None:
        """After a save: empty the secret inputs (their values are stored now)."""
        for key in secret_keys(kind):
            w = self.widget(kind, key)
            if isinstance(w, Input):
                w.value = ""
                if public[kind].get(key):
                    w.placeholder = KEEP
            elif isinstance(w, TextArea):
                w.text = ""

    def dirty(self, public: dict[str, Any] | None) -> bool:
        """Whether what is on screen differs from what is saved."""
        if public is None:
            return False
        if self.kind != public["kind"]:
            return True
        if self.kind == "local":
            return False
        saved, secrets = public[self.kind], secret_keys(self.kind)
        return any(k in secrets or v != saved.get(k, "") for k, v in self.values().items())

    @on(Select.Changed, "#wh-kind")
    def _kind_changed(self, event: Select.Changed) -> None:
        self.query_one(ContentSwitcher).current = f"form-{event.value}"
        self._auth_rows()

    @on(Select.Changed, "#snowflake-auth")
    def _auth_changed(self, event: Select.Changed) -> None:
        self._auth_rows()

    def _auth_rows(self) -> None:
        keypair = str(self.query_one("#snowflake-auth", Select).value) == "keypair"
        for key in (*KEYPAIR_ONLY, "password"):
            self.query_one(f"#row-snowflake-{key}").set_class((key == "password") == keypair,
                                                              "-hidden")
