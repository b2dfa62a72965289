"""The `lib` module a feed script imports: outputStream, metadata, connection and trigger.

This file runs inside the feed's own environment, so it uses the standard library only (requests is
imported lazily, because every feed environment has it). Records go to the engine over a pipe that is
separate from stdout and stderr, which are the run's logs.
"""
from __future__ import annotations

import json
import os
from typing import Any

__all__ = ["outputStream", "metadata", "connection", "trigger"]

MAX_RECORD_BYTES = 64 * 1024 * 1024


class LibUsageError(Exception):
    """The script used `lib` in a way the contract does not allow."""


class _Channel:
    """The records pipe: one JSON object per line; control lines start with a letter."""

    def __init__(self, fd: int) -> None:
        self._file = os.fdopen(fd, "wb", buffering=1 << 20)
        self.failed: str | None = None

    def write_line(self, data: bytes) -> None:
        self._file.write(data)

    def control(self, kind: str, payload: Any) -> None:
        self._file.write(kind.encode() + json.dumps(payload).encode() + b"\n")

    def close(self) -> None:
        try:
            self._file.flush()
            self._file.close()
        except (OSError, ValueError):
            pass


class _OutputStream:
    """`outputStream.write(record)`: send one record (a JSON object) to the engine."""

    def __init__(self, channel: _Channel, max_bytes: int) -> None:
        self._channel = channel
        self._encode = json.JSONEncoder(allow_nan=False).encode
        self._max = max_bytes
        self.count = 0

    def _fail(self, message: str) -> None:
        if self._channel.failed is None:
            self._channel.failed = message
            self._channel.control("E", {"error": message})
        raise LibUsageError(message)

    def write(self, record: Any) -> None:
        """Write one record; it must be a dict that JSON can serialise."""
        index = self.count
        if type(record) is not dict and not isinstance(record, dict):
            self._fail(f"record #{index} is not a JSON object (got {type(record).__name__})")
        try:
            line = self._encode(record)
        except (TypeError, ValueError, RecursionError) as e:
            self._fail(f"record #{index} cannot be serialised: {e}")
        if len(line) > self._max:
            self._fail(
                f"record #{index} is {len(line):,} bytes, over the limit of {self._max:,} bytes"
            )
        self._channel.write_line((line + "\n").encode())
        self.count = index + 1

    def writeMany(self, records: Any) -> None:  # noqa: N802 - mirrors the platform's camelCase
        """Write each record of an iterable."""
        for r in records:
            self.write(r)


class _Metadata(dict):
    """The state the last successful run committed; `metadata.save(obj)` stages the next one."""

    def __init__(self, initial: dict[str, Any], channel: _Channel) -> None:
        super().__init__(initial)
        self._channel = channel
        self.saved = False

    def save(self, obj: Any) -> None:
        """Stage `obj` (a JSON object) to commit together with this run's records."""
        if not isinstance(obj, dict):
            raise LibUsageError(
                f"metadata.save() needs a JSON object (a dict), got {type(obj).__name__}"
            )
        try:
            text = json.dumps(obj, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise LibUsageError(f"metadata.save() got a value that is not JSON-serialisable: {e}") from None
        self._channel.write_line(b"M" + text.encode() + b"\n")
        self.clear()
        self.update(json.loads(text))
        self.saved = True


class _Connection:
    """The feed's connection, with auth ready to use; secrets reach the script only through here."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.name: str = spec.get("name", "")
        self.auth_type: str = spec.get("auth_type", "none")
        self.username: str | None = spec.get("username") or None
        self.password: str | None = spec.get("password") or None
        self.auth_url: str | None = spec.get("auth_url") or None
        self.auth_response: Any = spec.get("auth_response")
        self.token: str | None = spec.get("token")
        self.headers: dict[str, str] = dict(spec.get("headers") or {})

    @property
    def auth(self) -> Any:
        """A requests auth object for Basic Auth, else None."""
        if self.auth_type != "basic":
            return None
        from requests.auth import HTTPBasicAuth

        return HTTPBasicAuth(self.username or "", self.password or "")

    def session(self) -> Any:
        """A requests.Session with this connection's auth already applied."""
        import requests

        s = requests.Session()
        if self.auth_type == "basic":
            s.auth = self.auth
        s.headers.update(self.headers)
        return s

    def __repr__(self) -> str:
        return f"<connection {self.name!r} auth={self.auth_type}>"


class _Trigger:
    """What started this run: `trigger.source` and, for webhooks, `trigger.payload`."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.source: str = spec.get("source", "manual")
        self.payload: Any = spec.get("payload")

    def __repr__(self) -> str:
        return f"<trigger {self.source}>"


outputStream: _OutputStream
metadata: _Metadata
connection: _Connection
trigger: _Trigger
_channel: _Channel


def _init(config: dict[str, Any], records_fd: int) -> None:
    global outputStream, metadata, connection, trigger, _channel
    _channel = _Channel(records_fd)
    outputStream = _OutputStream(_channel, int(config.get("max_record_bytes", MAX_RECORD_BYTES)))
    metadata = _Metadata(config.get("metadata") or {}, _channel)
    connection = _Connection(config.get("connection") or {})
    trigger = _Trigger(config.get("trigger") or {})


def _finish(ok: bool) -> None:
    if ok and _channel.failed is None:
        _channel.control("D", {"records": outputStream.count})
    _channel.close()
