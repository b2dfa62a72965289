"""Named fault points for the fault-injection suite: `PEAK_TUI_FAULTS=name[,name...]` kills the process.

Each point is a single dict lookup when the variable is unset, so the cost in production is nil.
`name@N` fires on the N-th time the point is reached (1-based).
"""
from __future__ import annotations

import os
import signal

_spec = os.environ.get("PEAK_TUI_FAULTS", "")
_points: dict[str, int] = {}
for _item in filter(None, (s.strip() for s in _spec.split(","))):
    _name, _, _n = _item.partition("@")
    _points[_name] = int(_n or 1)
_seen: dict[str, int] = {}


def point(name: str) -> None:
    """Kill this process with SIGKILL here if the fault `name` is armed."""
    if not _points or name not in _points:
        return
    _seen[name] = _seen.get(name, 0) + 1
    if _seen[name] == _points[name]:
        os.kill(os.getpid(), signal.SIGKILL)
