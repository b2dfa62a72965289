"""The SQL the Redshift destination sends, built by pure functions so tests can pin every statement.

Literals come from the executor (`lit`), because Redshift and PostgreSQL quote differently:
Redshift treats a backslash in a string literal as an escape, PostgreSQL does not.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from peak_tui.destinations.base import AUDIT_CREATED_AT, AUDIT_REQUEST_ID
from peak_tui.destinations.columns import Dialect

SCHEMA = "stage"
COMMITS = "_peak_commits"
MAX_IDENT_BYTES = 127
MAX_METADATA_BYTES = 65535
TYPES = {"boolean": "BOOLEAN", "integer": "BIGINT", "number": "DOUBLE PRECISION",
         "string": "VARCHAR(65535)", "object": "SUPER"}
AUDIT_COLUMNS = ((AUDIT_CREATED_AT, "TIMESTAMPTZ"), (AUDIT_REQUEST_ID, "VARCHAR(64)"))
Lit = Callable[[str], str]


def column_name(key: str) -> str:
    """A record key as a Redshift column: lower case, at most 127 bytes."""
    name = key.lower() or "_"
    data = name.encode()
    if len(data) > MAX_IDENT_BYTES:
        name = data[:MAX_IDENT_BYTES].decode(errors="ignore")
    return name


DIALECT = Dialect(name=column_name, types=TYPES,
                  max_bytes={"string": 65535, "object": 16 * 1024 * 1024},
                  audit=(AUDIT_CREATED_AT, AUDIT_REQUEST_ID))


def ident(name: str) -> str:
    """A quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def table(name: str) -> str:
    """`"stage"."<name>"`."""
    return f"{ident(SCHEMA)}.{ident(name)}"


def table_name(feed: str) -> str:
    """The table a feed loads into (Redshift folds identifiers to lower case)."""
    return feed.lower()


@dataclass
class CopyStatement:
    """A COPY from staged S3 files: the SQL for Redshift plus what a local stand-in needs to load
    the same files (the manifest's location and each column's kind)."""

    sql: str
    schema: str
    table: str
    columns: list[str]
    kinds: dict[str, str]
    bucket: str
    manifest_key: str


Statement = str | CopyStatement


@dataclass
class Batch:
    """Statements that run as one transaction."""

    statements: list[Statement] = field(default_factory=list)

    def sql(self) -> list[str]:
        """The SQL text of every statement."""
        return [s.sql if isinstance(s, CopyStatement) else s for s in self.statements]


def create_schema() -> str:
    """The schema every feed table lives in."""
    return f"CREATE SCHEMA IF NOT EXISTS {ident(SCHEMA)}"


def create_commits() -> str:
    """The commit log: one row per committed run, keyed by request id."""
    return (f"CREATE TABLE IF NOT EXISTS {table(COMMITS)} (request_id VARCHAR(64) NOT NULL, "
            "feed VARCHAR(128) NOT NULL, metadata VARCHAR(65535) NOT NULL, records BIGINT NOT NULL, "
            "committed_at VARCHAR(40) NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (request_id))")


def create_table(name: str, columns: list[tuple[str, str]]) -> str:
    """A feed table: the audit columns, then the record's columns."""
    cols = ", ".join(f"{ident(c)} {t}" for c, t in (*AUDIT_COLUMNS, *columns))
    return f"CREATE TABLE IF NOT EXISTS {table(name)} ({cols})"


def add_column(name: str, column: str, sql_type: str) -> str:
    """Schema evolution: a new key in the records becomes a new column."""
    return f"ALTER TABLE {table(name)} ADD COLUMN {ident(column)} {sql_type}"


def columns_query(view: str, name: str, lit: Lit) -> str:
    """A table's columns and types (`svv_columns` on Redshift)."""
    return (f"SELECT column_name, data_type, character_maximum_length FROM {view} "
            f"WHERE table_schema = {lit(SCHEMA)} AND table_name = {lit(name)} "
            "ORDER BY ordinal_position")


def copy(name: str, columns: list[str], kinds: dict[str, str], bucket: str, manifest_key: str,
         iam_role: str, region: str, lit: Lit) -> CopyStatement:
    """COPY the staged gzip JSON-lines files (listed in a manifest) into the feed table."""
    cols = ", ".join(ident(c) for c in columns)
    sql = (f"COPY {table(name)} ({cols}) FROM {lit(f's3://{bucket}/{manifest_key}')} "
           f"IAM_ROLE {lit(iam_role)} FORMAT AS JSON 'auto' MANIFEST GZIP TIMEFORMAT 'auto' "
           f"REGION {lit(region)} MAXERROR 0 COMPUPDATE OFF STATUPDATE OFF")
    return CopyStatement(sql, SCHEMA, name, columns, kinds, bucket, manifest_key)


def lock_commits() -> str:
    """Serialise commits (Redshift aborts concurrent read-write transactions otherwise)."""
    return f"LOCK {table(COMMITS)}"


def insert_commit(request_id: str, feed: str, metadata_json: str, records: int,
                  committed_at: str, lit: Lit) -> str:
    """The commit row; its `seq` orders a feed's commits."""
    return (f"INSERT INTO {table(COMMITS)} (request_id, feed, metadata, records, committed_at, seq) "
            f"SELECT {lit(request_id)}, {lit(feed)}, {lit(metadata_json)}, {int(records)}, "
            f"{lit(committed_at)}, COALESCE(MAX(seq), 0) + 1 FROM {table(COMMITS)} "
            f"WHERE feed = {lit(feed)}")


def guard_single(request_id: str, lit: Lit) -> str:
    """Fails (division by zero) unless exactly one commit row has this request id, rolling back the
    whole transaction: Redshift does not enforce primary keys, so the check is explicit."""
    return (f"SELECT 1 / (CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END) FROM {table(COMMITS)} "
            f"WHERE request_id = {lit(request_id)}")


def select_commit(column: str, value: str, lit: Lit) -> str:
    """The newest commit row matching request_id or feed."""
    return (f"SELECT request_id, feed, metadata, records, committed_at FROM {table(COMMITS)} "
            f"WHERE {column} = {lit(value)} ORDER BY seq DESC LIMIT 1")


def commit_batch(copy_stmt: CopyStatement | None, request_id: str, feed: str, metadata_json: str,
                 records: int, committed_at: str, lit: Lit) -> Batch:
    """The load's one transaction: lock, COPY, commit row, and the single-commit check."""
    stmts: list[Statement] = [lock_commits()]
    if copy_stmt is not None:
        stmts.append(copy_stmt)
    stmts.append(insert_commit(request_id, feed, metadata_json, records, committed_at, lit))
    stmts.append(guard_single(request_id, lit))
    return Batch(stmts)
