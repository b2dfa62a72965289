"""Connections in the workspace: secrets encrypted at rest; name and auth type fixed once saved."""
from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from peak_tui import validation as v
from peak_tui.errors import Conflict, NotFound, ValidationError
from peak_tui.models import Connection
from peak_tui.store import dumps, loads, now_iso

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

EDITABLE = ("username", "password", "auth_url", "headers", "body")


class Connections:
    """Create, read, update and delete connections."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.store = ws.store

    def _row_to_connection(self, row: dict[str, Any], with_secrets: bool) -> Connection:
        cfg = loads(row["config"], {})
        conn = Connection(
            name=row["name"], auth_type=row["auth_type"], username=cfg.get("username", ""),
            auth_url=cfg.get("auth_url", ""), created_at=row["created_at"], updated_at=row["updated_at"],
        )
        if with_secrets and row["secrets"]:
            sec = self.ws.box.decrypt_json(row["secrets"])
            conn.password = sec.get("password", "")
            conn.headers = sec.get("headers", {})
            conn.body = sec.get("body")
        else:
            conn.headers = {k: "" for k in cfg.get("header_names", [])}
        return conn

    def _columns(self, conn: Connection) -> dict[str, Any]:
        cfg = {"username": conn.username, "auth_url": conn.auth_url, "header_names": list(conn.headers)}
        secrets = {"password": conn.password, "headers": conn.headers, "body": conn.body}
        return {"config": dumps(cfg), "secrets": self.ws.box.encrypt_json(secrets)}

    def add(self, conn: Connection) -> Connection:
        """Save a new connection."""
        conn.validate()
        cols = self._columns(conn)
        now = now_iso()
        with self.store.write() as c:
            if c.execute("SELECT 1 FROM connections WHERE name=?", (conn.name,)).fetchone():
                raise Conflict(f"connection.name: a connection named {conn.name!r} already exists")
            c.execute(
                "INSERT INTO connections(name, auth_type, config, secrets, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?)",
                (conn.name, conn.auth_type, cols["config"], cols["secrets"], now, now),
            )
        conn.created_at = conn.updated_at = now
        return conn

    def get(self, name: str, *, with_secrets: bool = True) -> Connection:
        """One connection by name."""
        row = self.store.query_one("SELECT * FROM connections WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"no connection named {name!r}")
        return self._row_to_connection(row, with_secrets)

    def exists(self, name: str) -> bool:
        """Whether a connection of this name exists."""
        return self.store.query_one("SELECT 1 FROM connections WHERE name=?", (name,)) is not None

    def list(self, *, with_secrets: bool = False) -> list[Connection]:
        """Every connection, by name."""
        rows = self.store.query("SELECT * FROM connections ORDER BY name")
        return [self._row_to_connection(r, with_secrets) for r in rows]

    def update(self, name: str, /, **changes: Any) -> Connection:
        """Change the editable fields; the name and auth type cannot change after save."""
        for key in ("name", "auth_type"):
            if key in changes:
                current = self.get(name, with_secrets=False)
                if changes[key] != getattr(current, key):
                    raise ValidationError(f"connection.{key}", "cannot change after the connection is saved",
                                          changes[key])
                changes.pop(key)
        unknown = set(changes) - set(EDITABLE)
        if unknown:
            raise ValidationError("connection", f"has no editable field {sorted(unknown)[0]!r}",
                                  sorted(unknown)[0])
        with self.store.write() as c:
            conn = self.get(name)
            for k, val in changes.items():
                setattr(conn, k, val)
            conn.validate()
            cols = self._columns(conn)
            conn.updated_at = now_iso()
            c.execute(
                "UPDATE connections SET config=?, secrets=?, updated_at=? WHERE name=?",
                (cols["config"], cols["secrets"], conn.updated_at, name),
            )
        return conn

    def used_by(self, name: str) -> builtins.list[str]:
        """Names of the feeds using a connection."""
        return [r["name"] for r in self.store.query(
            "SELECT name FROM feeds WHERE connection=? ORDER BY name", (name,))]

    def delete(self, name: str) -> None:
        """Delete a connection no feed uses."""
        with self.store.write() as c:
            if not c.execute("SELECT 1 FROM connections WHERE name=?", (name,)).fetchone():
                raise NotFound(f"no connection named {name!r}")
            feeds = self.used_by(name)
            if feeds:
                raise Conflict(
                    f"connection {name!r} is used by {len(feeds)} feed(s): {', '.join(feeds)}; "
                    "change or delete those feeds first"
                )
            c.execute("DELETE FROM connections WHERE name=?", (name,))


def validate_name_available(ws: Workspace, name: str) -> str:
    """For forms: the name is valid and not taken."""
    v.connection_name(name)
    if ws.connections.exists(name):
        raise ValidationError("connection.name", "is already taken by another connection", name)
    return name
