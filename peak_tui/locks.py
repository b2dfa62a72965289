"""Advisory file locks (flock) that die with their process: one run per feed, and live-run markers."""
from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FileLock:
    """An exclusive flock on a file; released on close or when the holding process dies."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, blocking: bool = False) -> bool:
        """Take the lock; returns False if another process holds it (when not blocking)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def write_note(self, text: str) -> None:
        """Leave a note in the lock file (who holds it), for error messages."""
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.pwrite(self.fd, text.encode(), 0)

    def read_note(self) -> str:
        """The holder's note, if any."""
        try:
            return self.path.read_text()
        except OSError:
            return ""

    def release(self, remove: bool = False) -> None:
        """Drop the lock (and optionally its file)."""
        if self.fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self.fd is not None

    def __enter__(self) -> FileLock:
        self.acquire(blocking=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
