"""Stage 1's list widget, its messages, and the blocking connection jobs its thread workers run."""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList

from peak_tui.errors import PeakError
from screens.connection_form import EMPTY

if TYPE_CHECKING:
    from peak_tui.models import Connection
    from peak_tui.workspace import Workspace

Post = Callable[[Message], Any]


class ConnectionList(OptionList):
    """Saved connections plus '+ New connection'; Delete removes the highlighted one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("delete", "delete_connection", "Delete connection", id="wizard.delete_connection"),
    ]

    class DeleteRequested(Message):
        """The user asked to delete the highlighted connection."""

    def action_delete_connection(self) -> None:
        """Ask the stage to delete the highlighted connection."""
        self.post_message(self.DeleteRequested())


class ConnectionSaved(Message):
    """A connection was saved; `advance` when Next asked for the save."""

    def __init__(self, name: str, values: dict[str, Any], advance: bool) -> None:
        super().__init__()
        self.name, self.values, self.advance = name, values, advance


class ConnectionFailed(Message):
    """Saving, reading or deleting a connection failed; the message is the engine's."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class ConnectionFetched(Message):
    """A saved connection's settings (secrets included, for the masked fields) were read."""

    def __init__(self, name: str, values: dict[str, Any]) -> None:
        super().__init__()
        self.name, self.values = name, values


class ConnectionDeleted(Message):
    """A connection was deleted."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def problem_text(error: Exception) -> str:
    """A user-facing message for any failure: the engine's own, or the fault's type and text."""
    return str(error) if isinstance(error, PeakError) else f"{type(error).__name__}: {error}"


def fetch(ws: Workspace, name: str, post: Post) -> None:
    """Read one connection as form values."""
    try:
        conn = ws.connections.get(name)
    except Exception as e:  # never let a worker die silently: the stage shows the message
        post(ConnectionFailed(problem_text(e)))
        return
    values = {k: getattr(conn, k) for k in EMPTY}
    body = values["body"]
    values["body"] = (body if isinstance(body, str) else json.dumps(body, indent=2)) if body else ""
    post(ConnectionFetched(name, values))


def save(ws: Workspace, conn: Connection, *, is_new: bool, values: dict[str, Any], advance: bool,
         post: Post) -> None:
    """Add a new connection or update the editable fields of a saved one."""
    try:
        if is_new:
            ws.connections.add(conn)
        else:
            ws.connections.update(conn.name, username=conn.username, password=conn.password,
                                  auth_url=conn.auth_url, headers=conn.headers, body=conn.body)
    except Exception as e:  # never let a worker die silently: the stage shows the message
        post(ConnectionFailed(problem_text(e)))
        return
    post(ConnectionSaved(conn.name, values, advance))


def delete(ws: Workspace, name: str, post: Post) -> None:
    """Delete a connection; the engine refuses (naming the feeds) while feeds use it."""
    try:
        ws.connections.delete(name)
    except Exception as e:
        post(ConnectionFailed(f"Cannot delete {name}: {problem_text(e)}"))
        return
    post(ConnectionDeleted(name))
