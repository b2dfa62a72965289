"""The shape of the table a run loads into, and the per-record check that a record fits it.

This is the hot loop of every SQL load (once per value), so the common case - a value whose Python
type is already what its column holds - costs a few dict lookups; anything else goes through
`columns.coerce`, which converts or explains the rejection.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from peak_tui.destinations.columns import INT64, Dialect, Reject, coerce, family, kind_of, widen

_PY_KIND = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object",
            list: "object"}
_MISSING = object()
_BIG_CONTAINER = 1000  # nested values with more items than this get their size checked


@dataclass
class TableShape:
    """The columns a run loads into: the table's existing ones and the ones this run adds."""

    dialect: Dialect
    existing: dict[str, str]  # column name -> SQL type, as the warehouse reports it
    new: dict[str, str | None] = field(default_factory=dict)  # column -> widened kind (None: only nulls)
    order: list[str] = field(default_factory=list)  # every column this run wrote, first seen first
    _names: dict[str, str] = field(default_factory=dict)  # record key -> column
    _kinds: dict[str, Any] = field(default_factory=dict)  # column -> kind it holds (seen columns)
    _limits: dict[str, int] = field(default_factory=dict)  # column -> max bytes (0: no limit)

    def _column(self, key: str) -> str:
        col = self.dialect.name(key)
        if col in self.dialect.audit:
            raise Reject(f"key {key!r} clashes with the audit column {col}")
        self._names[key] = col
        return col

    def _limit(self, col: str, kind: str) -> int:
        sql_type = self.existing.get(col)
        if sql_type is not None and kind == "string":
            m = re.search(r"\((\d+)\)", sql_type)
            if m:
                return int(m.group(1))
        return self.dialect.max_bytes.get(kind or "", 0)

    def fit(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record keyed by column name with converted values; Reject if it cannot load."""
        out: dict[str, Any] = {}
        names, kinds, limits = self._names, self._kinds, self._limits
        pending: list[tuple[str, Any]] = []  # schema changes, applied once the record is accepted
        for key, value in record.items():
            col = names.get(key) or self._column(key)
            if col in out:
                other = next(k for k in record if names.get(k) == col and k != key)
                raise Reject(f"keys {other!r} and {key!r} both map to column {col}")
            ck = kinds.get(col, _MISSING)
            if value is None:
                if ck is _MISSING:
                    pending.append((col, None))
                out[col] = None
                continue
            vk = _PY_KIND.get(value.__class__, "?")
            if ck == vk and ((vk != "string" or len(value) * 4 <= limits[col] or not limits[col])
                             and (vk != "integer" or INT64[0] <= value <= INT64[1])
                             and (vk != "object" or len(value) <= _BIG_CONTAINER)):
                out[col] = value  # the common case: already the column's type
                continue
            if (ck == "number" and vk == "integer" and -(2**53) <= value <= 2**53) or (
                    ck == "object" and vk != "object" and (vk != "string" or len(value) * 4
                                                           <= limits[col])):
                out[col] = value  # an integer in a float column, a scalar in a JSON column
                continue
            if ck is not _MISSING and col in self.existing:
                out[col] = coerce(value, ck, col, self.existing[col], limits[col])
                continue
            if ck is _MISSING and col in self.existing:
                sql_type = self.existing[col]
                kind = family(sql_type)
                out[col] = coerce(value, kind, col, sql_type, self._limit(col, kind))
                pending.append((col, kind))
                continue
            # a column this run adds: the widest kind its values need so far
            target = widen(ck if ck is not _MISSING else None, kind_of(value)) or "string"
            out[col] = coerce(value, target, col, self.dialect.types[target],
                              self.dialect.max_bytes.get(target, 0))
            pending.append((col, target))
        for col, kind in pending:
            self._seen(col, kind)
        return out

    def _seen(self, col: str, kind: str | None) -> None:
        if col not in self._kinds:
            self.order.append(col)
            if col not in self.existing:
                self.new[col] = None
        if col in self.existing:
            kind = family(self.existing[col])
        else:
            kind = widen(self.new[col], kind)
            self.new[col] = kind
        self._kinds[col] = kind
        self._limits[col] = self._limit(col, kind) if kind else 0

    def kind(self, col: str) -> str | None:
        """The kind a column holds so far (None: not seen, or only nulls)."""
        kind = self._kinds.get(col)
        return kind if isinstance(kind, str) else None

    def new_columns(self) -> list[tuple[str, str]]:
        """(column, SQL type) of the columns to add, in first-seen order."""
        return [(c, self.dialect.types[self.new[c] or "string"]) for c in self.order if c in self.new]

    def kinds(self) -> dict[str, str]:
        """Every loaded column's kind (existing columns by their type's family)."""
        out = {c: family(t) for c, t in self.existing.items()}
        out.update({c: k or "string" for c, k in self.new.items()})
        return out


def fit_records(shape: TableShape, records: list[dict[str, Any]], failed: Any, start: int,
                extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Records that fit the table (plus `extra` audit values); the others go to `failed.add`."""
    out = []
    fit = shape.fit
    for i, rec in enumerate(records):
        try:
            row = fit(rec)
        except Reject as e:
            failed.add(start + i, rec, str(e))
            continue
        if extra:
            row.update(extra)
        out.append(row)
    return out
