"""What every destination offers: a load that commits records and the feed's metadata together.

The destination's own commit log is the source of truth for a feed's metadata: a run counts as
committed exactly when its commit row is in the destination, written in the same transaction as its
records. The workspace database mirrors it and is reconciled from it after a crash.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

AUDIT_CREATED_AT = "peakauditcreatedat"
AUDIT_REQUEST_ID = "peakauditrequestid"


@dataclass
class Commit:
    """A committed load: which run, what metadata it committed, how many records."""

    request_id: str
    feed: str
    metadata: dict[str, Any]
    records: int
    committed_at: str


class Load(ABC):
    """One run's records on their way into a destination.

    `commit` must refuse (raise DestinationError, committing nothing) when the share of rows the
    destination rejected exceeds `failed_row_threshold`; rejected rows are kept for inspection.
    """

    failed_row_threshold: float = 0.0

    @abstractmethod
    def write(self, records: list[dict[str, Any]]) -> None:
        """Stage a batch of records."""

    @abstractmethod
    def commit(self, metadata: dict[str, Any]) -> int:
        """Make the staged records and the metadata visible together; returns rows loaded."""

    @abstractmethod
    def abort(self) -> None:
        """Discard everything staged."""

    @property
    def failed_rows(self) -> int:
        """Rows the destination rejected (kept for inspection)."""
        return 0


class Destination(ABC):
    """A place feeds load into."""

    kind: str = ""

    @abstractmethod
    def begin(self, feed: str, request_id: str) -> Load:
        """Start a load for one run."""

    @abstractmethod
    def last_commit(self, feed: str) -> Commit | None:
        """The newest commit of a feed, or None before its first run."""

    @abstractmethod
    def find_commit(self, request_id: str) -> Commit | None:
        """The commit of a run, if it committed."""

    def check(self) -> str:
        """Test the connection; returns a one-line verdict or raises DestinationError."""
        return "ok"


def json_type(val: Any) -> str:
    """The JSON type of a parsed value: null, boolean, integer, number, string, array or object."""
    if val is None:
        return "null"
    if isinstance(val, bool):
        return "boolean"
    if isinstance(val, int):
        return "integer"
    if isinstance(val, float):
        return "number"
    if isinstance(val, str):
        return "string"
    return "array" if isinstance(val, list) else "object"
