"""Where Redshift SQL runs: the Redshift Data API in production, PostgreSQL in tests.

Why the Data API (boto3 `redshift-data`) and not a driver: it needs no extra package or network
path to the cluster (it is an HTTPS AWS API, so it works from a laptop through the AWS chain's
credentials), it supports both provisioned clusters (db user or secret) and Serverless, and
`batch_execute_statement` runs a list of statements as ONE transaction, which is what the
exactly-once commit needs. `redshift_connector` cannot talk to a plain PostgreSQL server, and a
PostgreSQL server cannot run `COPY FROM 's3://...'` or `SUPER`; `PostgresExecutor` is the seam that
lets every other statement run for real in tests.
"""
from __future__ import annotations

import gzip
import re
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import orjson

from peak_tui.destinations.redshift_sql import Batch, CopyStatement, Statement
from peak_tui.errors import DestinationError

if TYPE_CHECKING:
    from peak_tui.destinations.s3_store import S3Store

Row = tuple[Any, ...]
DONE = ("FINISHED", "FAILED", "ABORTED")


class Executor(ABC):
    """Runs SQL against the warehouse."""

    columns_view = "svv_columns"

    @abstractmethod
    def query(self, sql: str) -> list[Row]:
        """Run one statement and return its rows."""

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement on its own (auto-commit)."""

    @abstractmethod
    def transaction(self, batch: Batch) -> None:
        """Run statements as one transaction: all commit or none do."""

    @abstractmethod
    def literal(self, text: str) -> str:
        """A string literal."""

    def close(self) -> None:  # noqa: B027 - optional hook: the Data API holds no connection
        """Release connections."""


class DataAPIExecutor(Executor):
    """Redshift through the Data API: provisioned (cluster + db user or secret) or Serverless."""

    def __init__(self, values: dict[str, str], client: Any = None, timeout: float = 3600.0) -> None:
        self.values = values
        self.timeout = timeout
        self._client = client
        target: dict[str, str] = {"Database": values["database"]}
        if values.get("workgroup"):
            target["WorkgroupName"] = values["workgroup"]
        else:
            target["ClusterIdentifier"] = values["cluster_id"]
        if values.get("secret_arn"):
            target["SecretArn"] = values["secret_arn"]
        elif values.get("db_user"):
            target["DbUser"] = values["db_user"]
        self.target = target

    @property
    def client(self) -> Any:
        """The boto3 `redshift-data` client."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session(profile_name=self.values.get("aws_profile") or None)
            self._client = session.client(
                "redshift-data", region_name=self.values["region"],
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10))
        return self._client

    def literal(self, text: str) -> str:
        """Redshift doubles quotes and backslashes (as its QUOTE_LITERAL does)."""
        return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        from peak_tui.destinations.s3_store import aws_error

        try:
            return fn(**kwargs)
        except Exception as e:
            raise aws_error(e, f"Redshift Data API {what}") from None

    def _wait(self, statement_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        delay = 0.05
        while True:
            desc = self._call("describe_statement", self.client.describe_statement, Id=statement_id)
            status = desc.get("Status")
            if status == "FINISHED":
                return desc
            if status in ("FAILED", "ABORTED"):
                raise DestinationError(f"Redshift: statement {status.lower()}: "
                                       f"{desc.get('Error') or 'no reason given'}")
            if time.monotonic() > deadline:
                self._call("cancel_statement", self.client.cancel_statement, Id=statement_id)
                raise DestinationError(f"Redshift: statement still running after {self.timeout:.0f} s;"
                                       " cancelled")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def execute(self, sql: str) -> None:
        """One statement, waited for."""
        resp = self._call("execute_statement", self.client.execute_statement, Sql=sql, **self.target)
        self._wait(resp["Id"])

    def query(self, sql: str) -> list[Row]:
        """One statement's rows (every page)."""
        resp = self._call("execute_statement", self.client.execute_statement, Sql=sql, **self.target)
        desc = self._wait(resp["Id"])
        if not desc.get("HasResultSet"):
            return []
        rows: list[Row] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Id": resp["Id"]}
            if token:
                kwargs["NextToken"] = token
            page = self._call("get_statement_result", self.client.get_statement_result, **kwargs)
            rows.extend(tuple(_field(f) for f in rec) for rec in page.get("Records", []))
            token = page.get("NextToken")
            if not token:
                return rows

    def transaction(self, batch: Batch) -> None:
        """`batch_execute_statement`: the Data API runs the list as one transaction."""
        resp = self._call("batch_execute_statement", self.client.batch_execute_statement,
                          Sqls=batch.sql(), **self.target)
        self._wait(resp["Id"])


def _field(f: dict[str, Any]) -> Any:
    if f.get("isNull"):
        return None
    for key in ("stringValue", "longValue", "doubleValue", "booleanValue"):
        if key in f:
            return f[key]
    return None


_SUPER = re.compile(r"\bSUPER\b")


class PostgresExecutor(Executor):
    """PostgreSQL standing in for Redshift: SUPER becomes JSONB, and a COPY from S3 becomes a local
    `COPY FROM STDIN` of the same staged files, read back through the S3 client."""

    columns_view = "information_schema.columns"

    def __init__(self, conninfo: str, store: S3Store) -> None:
        import psycopg

        self.store = store
        self.conn = psycopg.connect(conninfo, autocommit=True)
        self.conn.execute("SET TIME ZONE 'UTC'")

    def literal(self, text: str) -> str:
        """PostgreSQL (standard_conforming_strings) doubles quotes only."""
        return "'" + text.replace("'", "''") + "'"

    @staticmethod
    def translate(sql: str) -> str:
        """Redshift DDL in PostgreSQL's words (data statements are left alone)."""
        if sql.startswith(("CREATE TABLE", "ALTER TABLE")):
            return _SUPER.sub("JSONB", sql)
        return sql

    def _run(self, cur: Any, stmt: Statement) -> None:
        import psycopg

        try:
            if isinstance(stmt, CopyStatement):
                self._copy(cur, stmt)
            else:
                cur.execute(self.translate(stmt))
        except psycopg.Error as e:
            raise DestinationError(f"PostgreSQL: {str(e).strip()}") from None

    def execute(self, sql: str) -> None:
        """One statement, auto-committed."""
        with self.conn.cursor() as cur:
            self._run(cur, sql)

    def query(self, sql: str) -> list[Row]:
        """One statement's rows."""
        with self.conn.cursor() as cur:
            self._run(cur, sql)
            return [tuple(r) for r in cur.fetchall()] if cur.description else []

    def transaction(self, batch: Batch) -> None:
        """BEGIN ... COMMIT around the statements (rolled back on any error)."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            for stmt in batch.statements:
                self._run(cur, stmt)

    def _copy(self, cur: Any, stmt: CopyStatement) -> None:
        """Like Redshift's `FORMAT AS JSON 'auto'`: PostgreSQL itself parses each staged line and
        maps its keys to the listed columns by name (jsonb_populate_record converts the types)."""
        manifest = orjson.loads(self.store.client.get_object(
            Bucket=stmt.bucket, Key=stmt.manifest_key)["Body"].read())
        cur.execute("CREATE TEMP TABLE _peak_copy (j jsonb) ON COMMIT DROP")
        # One JSON document per line; \x01 and \x02 never occur raw in JSON, so CSV with them as
        # quote and delimiter passes every line through untouched (text format would eat \).
        with cur.copy("COPY _peak_copy (j) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', "
                      "DELIMITER E'\\x02')") as cp:
            for entry in manifest["entries"]:
                bucket, _, key = entry["url"].removeprefix("s3://").partition("/")
                body = self.store.client.get_object(Bucket=bucket, Key=key)["Body"]
                with gzip.GzipFile(fileobj=body) as lines:
                    while data := lines.read(1 << 20):
                        cp.write(data)
        target = f'"{stmt.schema}"."{stmt.table}"'
        cols = ", ".join('"' + c.replace('"', '""') + '"' for c in stmt.columns)
        picked = ", ".join('r."' + c.replace('"', '""') + '"' for c in stmt.columns)
        cur.execute(f"INSERT INTO {target} ({cols}) SELECT {picked} FROM _peak_copy, "
                    f"jsonb_populate_record(NULL::{target}, _peak_copy.j) AS r")
        cur.execute("DROP TABLE _peak_copy")

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()
