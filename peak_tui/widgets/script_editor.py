"""The feed script editor: Python highlighting, line numbers, Tab indents, Esc leaves, syntax check."""
from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static, TextArea

LEAVE_HINT = "Tab indents · Esc leaves the editor"


def syntax_problem(script: str, field: str = "feed.script") -> str | None:
    """The engine's script rule: not empty and compiles; None when it holds."""
    if not script.strip():
        return f"{field}: must not be empty"
    try:
        compile(script, "<feed>", "exec")
    except SyntaxError as e:
        return f"{field}: has a syntax error on line {e.lineno}: {e.msg}"
    return None


class ScriptEditor(Vertical):
    """A Python code editor with a visible way out and an inline syntax-error line."""

    DEFAULT_CSS = """
    ScriptEditor { height: auto; }
    ScriptEditor > #script-hint { color: $text-muted; }
    ScriptEditor > TextArea { height: 50vh; min-height: 8; }
    ScriptEditor > #script-error { color: $text-error; display: none; }
    ScriptEditor.-error > #script-error { display: block; }
    """

    class Changed(Message):
        """The script text changed."""

        def __init__(self, editor: ScriptEditor) -> None:
            super().__init__()
            self.editor = editor

        @property
        def control(self) -> ScriptEditor:
            """The editor that changed."""
            return self.editor

    def __init__(self, text: str = "", *, hint: str = LEAVE_HINT, id: str | None = None) -> None:
        super().__init__(id=id)
        self._text = text
        self.hint = hint
        self.marked_line: int | None = None

    def compose(self) -> ComposeResult:
        """Hint, editor, error line."""
        yield Static(self.hint, id="script-hint", markup=False)
        yield TextArea.code_editor(self._text, language="python", id="script-text")
        yield Static("", id="script-error", markup=False)

    @property
    def text_area(self) -> TextArea:
        """The inner TextArea."""
        return self.query_one("#script-text", TextArea)

    @property
    def text(self) -> str:
        """The script."""
        return self.text_area.text

    @text.setter
    def text(self, value: str) -> None:
        self.text_area.load_text(value)
        self._check()

    def problem(self) -> str | None:
        """The engine's script rule, applied to the current text."""
        return syntax_problem(self.text)

    def mark_line(self, line: int, message: str = "") -> None:
        """Select a line of the script (1-based) and say why, e.g. where a test failed."""
        area = self.text_area
        index = max(0, min(line - 1, area.document.line_count - 1))
        area.select_line(index)
        area.scroll_cursor_visible(center=True)
        self.marked_line = line
        self._show(message or f"line {line}")

    def _show(self, message: str | None) -> None:
        self.set_class(bool(message), "-error")
        self.query_one("#script-error", Static).update(message or "")

    def _check(self) -> None:
        self.marked_line = None
        self._show(self.problem() if self.text.strip() else None)

    @on(TextArea.Changed, "#script-text")
    def _changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._check()
        self.post_message(self.Changed(self))
