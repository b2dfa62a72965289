"""A bounded store of a run's log: the head and the tail are kept, the middle is counted and dropped."""
from __future__ import annotations

import threading
from collections import deque


class LogBuffer:
    """Keeps at most `head_bytes` from the start and `tail_bytes` from the end of a log."""

    def __init__(self, max_bytes: int = 4 * 1024 * 1024, head_fraction: float = 0.25) -> None:
        self.head_max = int(max_bytes * head_fraction)
        self.tail_max = max_bytes - self.head_max
        self._head: list[str] = []
        self._head_size = 0
        self._tail: deque[str] = deque()
        self._tail_size = 0
        self.dropped_bytes = 0
        self.dropped_lines = 0
        self.discarded_bytes = 0  # read past the output cap and never appended (see count_discarded)
        self.total_bytes = 0
        self._lock = threading.Lock()

    def append(self, line: str) -> None:
        """Add one line (without its newline)."""
        n = len(line) + 1
        with self._lock:
            self.total_bytes += n
            if self._head_size + n <= self.head_max and not self._tail:
                self._head.append(line)
                self._head_size += n
                return
            self._tail.append(line)
            self._tail_size += n
            while self._tail_size > self.tail_max and len(self._tail) > 1:
                old = self._tail.popleft()
                self._tail_size -= len(old) + 1
                self.dropped_bytes += len(old) + 1
                self.dropped_lines += 1
            if self._tail_size > self.tail_max:  # one giant line: keep its end
                only = self._tail[0]
                keep = only[-self.tail_max :]
                self.dropped_bytes += len(only) - len(keep)
                self._tail[0] = keep
                self._tail_size = len(keep) + 1

    def count_discarded(self, n: int) -> None:
        """Count `n` bytes of output that were read and thrown away without being appended."""
        with self._lock:
            self.total_bytes += n
            self.discarded_bytes += n

    @property
    def truncated(self) -> bool:
        """Whether anything was dropped."""
        return self.dropped_bytes > 0 or self.discarded_bytes > 0

    def text(self) -> str:
        """The kept log, with a marker where the middle was dropped."""
        with self._lock:
            parts = list(self._head)
            if self.dropped_bytes:
                parts.append(
                    f"[peak] ... {self.dropped_lines:,} lines ({self.dropped_bytes:,} bytes) "
                    "of log were dropped here to keep the stored log bounded; the tail follows ..."
                )
            parts.extend(self._tail)
        return "\n".join(parts) + ("\n" if parts else "")
