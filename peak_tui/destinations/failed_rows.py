"""Rows a destination rejects: kept with their reason in `<workspace>/failed_rows/<request_id>.jsonl`.

Each line is `{"row": <index in the run>, "reason": "...", "record": {...}}`. A run fails (and commits
nothing) when the share of rejected rows exceeds the feed's `failed_row_threshold` (default 0: any
rejected row fails the run).
"""
from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import orjson

from peak_tui.errors import DestinationError

KEEP_MAX_BYTES = 64 * 1024 * 1024  # stop copying rejected records beyond this; still count them


def failed_rows_path(home: Path, request_id: str) -> Path:
    """Where a run's rejected rows are kept."""
    return Path(home) / "failed_rows" / f"{request_id}.jsonl"


class FailedRows:
    """Counts a run's rejected rows and keeps them for inspection."""

    def __init__(self, home: Path, request_id: str) -> None:
        self.path = failed_rows_path(home, request_id)
        self.count = 0
        self._file: IO[bytes] | None = None
        self._bytes = 0

    def add(self, index: int, record: Any, reason: str) -> None:
        """Keep one rejected record with the reason it was refused."""
        self.count += 1
        if self._bytes > KEEP_MAX_BYTES:
            return
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        try:
            line = orjson.dumps({"row": index, "reason": reason, "record": record})
        except TypeError:
            line = orjson.dumps({"row": index, "reason": reason, "record": repr(record)})
        self._file.write(line + b"\n")
        self._bytes += len(line) + 1

    def close(self) -> None:
        """Flush the file (kept on disk whether the run succeeds or fails)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def check(self, total: int, threshold: float) -> None:
        """Raise DestinationError when the share of rejected rows is above the threshold."""
        self.close()
        if not self.count:
            return
        share = self.count / total if total else 1.0
        if share > threshold:
            raise DestinationError(
                f"{self.count:,} of {total:,} rows ({share:.2%}) were rejected, above the feed's "
                f"failed_row_threshold of {threshold:.2%}; nothing was loaded. The rows and reasons "
                f"are in {self.path}" + (f" (first: {self.first_reason()})" if self.first_reason() else "")
            )

    def first_reason(self) -> str:
        """The reason the first kept row was rejected."""
        try:
            with open(self.path, "rb") as f:
                return str(orjson.loads(f.readline())["reason"])
        except (OSError, ValueError, KeyError):
            return ""

    def summary(self) -> str:
        """One line for the run log."""
        return f"{self.count:,} rows rejected by the destination; kept with reasons in {self.path}"
