"""Error types with a user-facing title, shared by the CLI and the TUI so both say the same thing."""
from __future__ import annotations

from typing import Any


class PeakError(Exception):
    """Base of every error peak-tui shows to a user: a short title plus a clear message."""

    title = "Error"
    exit_code = 1

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ValidationError(PeakError):
    """A value broke one of the product's rules; names the field, the rule and the offending value."""

    title = "Invalid input"
    exit_code = 2

    def __init__(self, field: str, rule: str, value: Any = None, *, show_value: bool = True) -> None:
        self.field = field
        self.rule = rule
        self.value = value
        shown = f" (got {_shown(value)})" if show_value else ""
        super().__init__(f"{field}: {rule}{shown}")


def _shown(value: Any) -> str:
    """The value as the message shows it; a whole number too long to print is described instead."""
    try:
        return repr(value)
    except ValueError:  # int over sys.get_int_max_str_digits() digits
        return f"a whole number of about {int(value.bit_length() * 0.30103):,} digits"


class NotFound(PeakError):
    """A named object (connection, feed, run) does not exist in the workspace."""

    title = "Not found"
    exit_code = 3


class Conflict(PeakError):
    """The request clashes with the workspace's state (duplicate name, object in use, feed busy)."""

    title = "Conflict"
    exit_code = 4


class EnvironmentBuildError(PeakError):
    """Building a feed's Python environment failed; the previous good environment is untouched."""

    title = "Dependency install failed"


class AuthError(PeakError):
    """The custom-auth exchange with the authorization URL failed."""

    title = "Authorization failed"


class RunError(PeakError):
    """A feed's script or its load failed."""

    title = "Run failed"


class DestinationError(PeakError):
    """A destination could not be reached or refused the load."""

    title = "Destination error"
