"""The Snowflake destination: `<SCHEMA>.<FEED>` tables loaded exactly once with their commit row.

While the script runs, records are fitted to the table and spilled to local columnar chunks
(bounded memory). At commit: schema changes first (Snowflake DDL commits implicitly, so it must not
sit inside the load transaction), then each chunk goes into a TEMPORARY staging table with
`write_pandas` (its internal stage + COPY), and finally ONE transaction (BEGIN ... COMMIT) moves the
staged rows into the feed table (nested values through PARSE_JSON into VARIANT) and inserts the
commit row into `_PEAK_COMMITS`, after checking that request id is not there already. A process
killed before COMMIT leaves nothing visible; its temporary table dies with its session.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from peak_tui.destinations import FACTORIES
from peak_tui.destinations import snowflake_sql as q
from peak_tui.destinations.base import Commit, Destination
from peak_tui.destinations.snowflake_load import SnowflakeLoad, snowflake_error
from peak_tui.errors import DestinationError

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace


class SnowflakeDestination(Destination):
    """Tables in the configured database and schema (default STAGE)."""

    kind = "snowflake"

    def __init__(self, ws: Workspace, values: dict[str, str]) -> None:
        self.ws = ws
        self.values = values
        self.schema = values.get("schema") or "STAGE"

    def connect(self, login_timeout: int = 60) -> Any:
        """A session in the configured warehouse, database and role (schema created if missing)."""
        import snowflake.connector  # fakesnow patches snowflake.connector.connect: call it there

        from peak_tui.warehouse_rules import private_key_der

        v = self.values
        kwargs: dict[str, Any] = {
            "account": v["account"], "user": v["user"], "warehouse": v.get("warehouse") or None,
            "database": v["database"], "role": v.get("role") or None, "autocommit": True,
            "login_timeout": login_timeout, "network_timeout": 600, "application": "peak-tui",
            "client_session_keep_alive": True,
        }
        if v.get("auth") == "keypair":
            kwargs["private_key"] = private_key_der(v)
        else:
            kwargs["password"] = v.get("password", "")
        try:
            conn = snowflake.connector.connect(**{k: x for k, x in kwargs.items() if x is not None})
            cur = conn.cursor()
            try:  # a role that may use but not create schemas still works when it exists
                cur.execute(f"USE SCHEMA {q.ident(self.schema)}")
            except snowflake.connector.errors.ProgrammingError:
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {q.ident(self.schema)}")
                cur.execute(f"USE SCHEMA {q.ident(self.schema)}")
            cur.execute(q.create_commits(self.schema))
        except DestinationError:
            raise
        except Exception as e:
            raise snowflake_error(e, f"account {v['account']}") from None
        return conn

    def columns(self, conn: Any, name: str) -> dict[str, str]:
        """An existing table's columns and types ({} when there is no table yet)."""
        rows = conn.cursor().execute(q.COLUMNS_QUERY, (self.schema, name)).fetchall()
        return {r[0]: q.sql_type(r) for r in rows}

    def begin(self, feed: str, request_id: str) -> SnowflakeLoad:
        """Open a session and start spilling the run's records."""
        return SnowflakeLoad(self, feed, request_id)

    def _commit(self, column: str, value: str, conn: Any = None) -> Commit | None:
        own = conn is None
        conn = conn or self.connect()
        try:
            row = conn.cursor().execute(q.select_commit(self.schema, column), (value,)).fetchone()
        except Exception as e:
            raise snowflake_error(e, "reading the commit log") from None
        finally:
            if own:
                conn.close()
        if row is None:
            return None
        return Commit(str(row[0]), str(row[1]), orjson.loads(row[2]), int(row[3]), str(row[4]))

    def last_commit(self, feed: str) -> Commit | None:
        """The feed's newest commit row."""
        return self._commit("FEED", feed)

    def find_commit(self, request_id: str) -> Commit | None:
        """The run's commit row."""
        return self._commit("REQUEST_ID", request_id)

    def check(self) -> str:
        """Log in, and make sure the schema and commit log can be used."""
        conn = self.connect(login_timeout=20)
        try:
            user, role, db, version = conn.cursor().execute(
                "SELECT CURRENT_USER(), CURRENT_ROLE(), CURRENT_DATABASE(), CURRENT_VERSION()"
            ).fetchone()
        except Exception as e:
            raise snowflake_error(e, "test query") from None
        finally:
            conn.close()
        return (f"Snowflake {self.values['account']} {version}: user {user}, role {role}, "
                f"database {db}, schema {self.schema} ready")


def factory(ws: Workspace, dest: dict[str, Any]) -> SnowflakeDestination:
    """Build the Snowflake destination from the workspace's settings."""
    from peak_tui.warehouse import settings

    return SnowflakeDestination(ws, settings(ws, "snowflake"))


FACTORIES["snowflake"] = factory
