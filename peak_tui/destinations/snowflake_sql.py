"""The Snowflake destination's SQL and its staging DataFrames, as pure functions."""
from __future__ import annotations

from typing import Any

import orjson

from peak_tui.destinations.columns import Dialect

COMMITS = "_PEAK_COMMITS"
AUDIT_CREATED_AT = "PEAKAUDITCREATEDAT"
AUDIT_REQUEST_ID = "PEAKAUDITREQUESTID"
AUDIT_FILENAME = "PEAKAUDITFILENAME"
AUDIT_COLUMNS = ((AUDIT_CREATED_AT, "TIMESTAMP_TZ"), (AUDIT_REQUEST_ID, "VARCHAR"),
                 (AUDIT_FILENAME, "VARCHAR"))
TYPES = {"boolean": "BOOLEAN", "integer": "NUMBER(38,0)", "number": "FLOAT", "string": "VARCHAR",
         "object": "VARIANT"}
# The private staging table holds nested values as JSON text; PARSE_JSON turns them into VARIANT.
STAGING_TYPES = {"boolean": "BOOLEAN", "integer": "NUMBER(38,0)", "number": "FLOAT",
                 "string": "VARCHAR", "object": "VARCHAR", "other": "VARCHAR"}
MAX_BYTES = 16 * 1024 * 1024


def column_name(key: str) -> str:
    """A record key as a Snowflake column: upper case (what unquoted names resolve to)."""
    return key.upper()[:255] or "_"


DIALECT = Dialect(name=column_name, types=TYPES,
                  max_bytes={"string": MAX_BYTES, "object": MAX_BYTES},
                  audit=(AUDIT_CREATED_AT, AUDIT_REQUEST_ID, AUDIT_FILENAME))


def ident(name: str) -> str:
    """A quoted identifier."""
    return '"' + name.replace('"', '""') + '"'


def table(schema: str, name: str) -> str:
    """`"<SCHEMA>"."<NAME>"`."""
    return f"{ident(schema)}.{ident(name)}"


def create_commits(schema: str) -> str:
    """The commit log: one row per committed run, keyed by request id."""
    return (f"CREATE TABLE IF NOT EXISTS {table(schema, COMMITS)} (\"REQUEST_ID\" VARCHAR NOT NULL, "
            "\"FEED\" VARCHAR NOT NULL, \"METADATA\" VARCHAR NOT NULL, \"RECORDS\" NUMBER(38,0) NOT NULL, "
            "\"COMMITTED_AT\" VARCHAR NOT NULL, \"SEQ\" NUMBER(38,0) NOT NULL, "
            "PRIMARY KEY (\"REQUEST_ID\"))")


def create_table(schema: str, name: str, columns: list[tuple[str, str]]) -> str:
    """A feed table: the audit columns, then the record's columns."""
    cols = ", ".join(f"{ident(c)} {t}" for c, t in (*AUDIT_COLUMNS, *columns))
    return f"CREATE TABLE IF NOT EXISTS {table(schema, name)} ({cols})"


def add_column(schema: str, name: str, column: str, sql_type: str) -> str:
    """Schema evolution: a new key becomes a new column."""
    return f"ALTER TABLE {table(schema, name)} ADD COLUMN {ident(column)} {sql_type}"


COLUMNS_QUERY = ("SELECT COLUMN_NAME, DATA_TYPE, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, "
                 "NUMERIC_SCALE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = %s AND "
                 "TABLE_NAME = %s ORDER BY ORDINAL_POSITION")


def sql_type(row: tuple[Any, ...]) -> str:
    """A column's type from its INFORMATION_SCHEMA row, with length or precision and scale."""
    _, data_type, length, precision, scale = row
    if data_type == "NUMBER":
        return f"NUMBER({precision or 38},{scale or 0})"
    if data_type == "TEXT" and length:
        return f"VARCHAR({length})"
    return str(data_type)


def create_staging(name: str, kinds: dict[str, str], columns: list[str]) -> str:
    """The run's private (temporary: gone with the session) staging table."""
    cols = ", ".join(f"{ident(c)} {STAGING_TYPES[kinds[c]]}" for c in columns)
    return f"CREATE TEMPORARY TABLE {ident(name)} ({cols}, {ident(AUDIT_FILENAME)} VARCHAR)"


def insert_from_staging(schema: str, name: str, staging: str, columns: list[str],
                        kinds: dict[str, str]) -> str:
    """Move the staged rows into the feed table (inside the load transaction)."""
    target = ", ".join(ident(c) for c in (*columns, AUDIT_CREATED_AT, AUDIT_REQUEST_ID, AUDIT_FILENAME))
    exprs = [f"PARSE_JSON({ident(c)})" if kinds[c] == "object" else ident(c) for c in columns]
    select = ", ".join([*exprs, "%s::TIMESTAMP_TZ", "%s", ident(AUDIT_FILENAME)])
    return f"INSERT INTO {table(schema, name)} ({target}) SELECT {select} FROM {ident(staging)}"


def insert_commit(schema: str) -> str:
    """The commit row; `SEQ` orders a feed's commits. Parameters: request id, feed, metadata JSON,
    records, committed at, feed."""
    t = table(schema, COMMITS)
    return (f"INSERT INTO {t} (\"REQUEST_ID\", \"FEED\", \"METADATA\", \"RECORDS\", \"COMMITTED_AT\", "
            f"\"SEQ\") SELECT %s, %s, %s, %s, %s, COALESCE(MAX(\"SEQ\"), 0) + 1 FROM {t} "
            "WHERE \"FEED\" = %s")


def select_commit(schema: str, column: str) -> str:
    """The newest commit row matching REQUEST_ID or FEED (one parameter)."""
    return (f"SELECT \"REQUEST_ID\", \"FEED\", \"METADATA\", \"RECORDS\", \"COMMITTED_AT\" FROM "
            f"{table(schema, COMMITS)} WHERE {ident(column)} = %s ORDER BY \"SEQ\" DESC LIMIT 1")


def frame(cols: dict[str, list[Any]], n: int, columns: list[str], kinds: dict[str, str],
          filename: str) -> Any:
    """A spilled chunk (column -> values; nested values as JSON bytes) as a DataFrame typed for the
    staging table."""
    import pandas as pd

    data: dict[str, Any] = {}
    for c in columns:
        vals = cols.get(c) or [None] * n
        kind = kinds[c]
        if kind == "integer":
            data[c] = pd.array(vals, dtype="Int64")
        elif kind == "number":
            data[c] = pd.array(vals, dtype="Float64")
        elif kind == "boolean":
            data[c] = pd.array(vals, dtype="boolean")
        elif kind == "object":
            data[c] = pd.Series([None if v is None else _json(v) for v in vals], dtype=object)
        else:
            data[c] = pd.Series([v if v is None or v.__class__ is str else _json(v) for v in vals],
                                dtype=object)
    data[AUDIT_FILENAME] = pd.Series([filename] * n, dtype=object)
    return pd.DataFrame(data)


def _json(value: Any) -> str:
    """JSON text of a value (bytes are JSON already)."""
    return value.decode() if value.__class__ is bytes else orjson.dumps(value).decode()
