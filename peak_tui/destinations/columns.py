"""Columns for SQL warehouses: names from record keys, types inferred from values, and the check that
a record fits the table it loads into (a record that cannot fit is a failed row, with its reason).

Kinds form a small lattice: boolean, integer, number, string and object (nested JSON). A new column
takes the widest kind its values need during the run (integer + number -> number, anything + nested
-> object, other mixes -> string); an existing column keeps its type and a value that cannot be
converted to it rejects the record.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

KINDS = ("boolean", "integer", "number", "string", "object")
INT64 = (-(2**63), 2**63 - 1)
_INT_TEXT = re.compile(r"[+-]?\d{1,38}")
_NUM_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def kind_of(value: Any) -> str | None:
    """The kind of a JSON value; None for null."""
    if value is None:
        return None
    if value is True or value is False:
        return "boolean"
    if isinstance(value, int):
        return "integer" if INT64[0] <= value <= INT64[1] else "string"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"


def widen(a: str | None, b: str | None) -> str | None:
    """The narrowest kind that holds values of both kinds."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if "object" in (a, b):
        return "object"
    if {a, b} == {"integer", "number"}:
        return "number"
    return "string"


def family(sql_type: str) -> str:
    """The kind an existing column's SQL type accepts ('other' for types we pass through)."""
    t = sql_type.lower().strip()
    if t.startswith(("bool",)):
        return "boolean"
    if t in ("bigint", "integer", "int", "int2", "int4", "int8", "smallint", "byteint", "tinyint"):
        return "integer"
    if t.startswith(("number", "numeric", "decimal")):
        scale = re.search(r",\s*(\d+)\s*\)", t)
        return "number" if scale and scale.group(1) != "0" else "integer"
    if t.startswith(("double", "float", "real")):
        return "number"
    if t.startswith(("varchar", "character", "char", "text", "string", "nvarchar", "bpchar")):
        return "string"
    if t in ("super", "variant", "object", "array", "json", "jsonb"):
        return "object"
    return "other"


class Reject(Exception):
    """A value cannot be stored in its column; the message is the failed row's reason."""


def coerce(value: Any, kind: str, column: str, sql_type: str, max_bytes: int) -> Any:
    """Convert a value for a column of `kind`, or raise Reject saying why it cannot be stored."""
    if value is None:
        return None
    if kind == "object":
        if max_bytes and _json_len(value) > max_bytes:
            raise Reject(f"column {column} ({sql_type}): value is larger than {max_bytes:,} bytes")
        return value
    if kind == "string":
        text = value if isinstance(value, str) else orjson.dumps(value).decode()
        if max_bytes and len(text) * 4 > max_bytes and len(text.encode()) > max_bytes:
            raise Reject(f"column {column} ({sql_type}): text is longer than {max_bytes:,} bytes")
        return text
    if kind == "boolean":
        if value is True or value is False:
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
    elif kind == "integer" and value is not True and value is not False:
        if isinstance(value, int) and INT64[0] <= value <= INT64[1]:
            return value
        if isinstance(value, float) and value.is_integer() and INT64[0] <= value <= INT64[1]:
            return int(value)
        if isinstance(value, str) and _INT_TEXT.fullmatch(value.strip()):
            n = int(value)
            if INT64[0] <= n <= INT64[1]:
                return n
    elif kind == "number" and value is not True and value is not False:
        if isinstance(value, (int, float)):
            return float(value) if isinstance(value, int) and abs(value) > 2**53 else value
        if isinstance(value, str) and _NUM_TEXT.fullmatch(value.strip()):
            return float(value)
    elif kind == "other":
        return value if isinstance(value, (str, int, float, bool)) else orjson.dumps(value).decode()
    raise Reject(f"column {column} is {sql_type}; value {_short(value)} is not {_ARTICLE[kind]}")


_ARTICLE = {"boolean": "a boolean", "integer": "a whole number in range",
            "number": "a number", "string": "text", "object": "JSON", "other": "a value"}


def _json_len(value: Any) -> int:
    return len(orjson.dumps(value))


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Dialect:
    """How one warehouse names columns and spells each kind's type."""

    name: Callable[[str], str]
    types: dict[str, str]
    max_bytes: dict[str, int]
    audit: tuple[str, ...]
