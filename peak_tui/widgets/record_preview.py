"""What a Test produced: up to 10 records as a table and as JSON, the count, metadata before and after.

On failure it shows the error, the traceback and the line of the user's script that failed.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static, TabbedContent, TabPane, TextArea

if TYPE_CHECKING:
    from peak_tui.execution import TestResult

CELL_MAX = 40


def compact(value: Any) -> str:
    """JSON text without spaces, as nested values read in a table cell."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def cell(value: Any) -> Text:
    """One table cell: strings as-is, everything else as compact JSON, long values cut."""
    if value is None:
        return Text("null", style="dim")
    text = value if isinstance(value, str) else compact(value)
    if len(text) > CELL_MAX:
        text = text[: CELL_MAX - 1] + "…"
    return Text(text, style="" if isinstance(value, str) else "cyan")


class RecordPreview(Vertical):
    """Shows one `TestResult`; hidden until the first result arrives."""

    DEFAULT_CSS = """
    RecordPreview { height: auto; display: none; }
    RecordPreview.-shown { display: block; }
    RecordPreview > #preview-summary { text-style: bold; }
    RecordPreview.-failed > #preview-summary { color: $text-error; }
    RecordPreview.-passed > #preview-summary { color: $text-success; }
    RecordPreview > #preview-meta { color: $text-muted; margin-bottom: 1; }
    RecordPreview > TabbedContent { height: auto; }
    RecordPreview DataTable { height: auto; max-height: 14; }
    RecordPreview #preview-json { height: 16; }
    RecordPreview > #preview-traceback { height: 14; display: none; }
    RecordPreview.-failed > #preview-traceback { display: block; }
    RecordPreview.-failed > TabbedContent { display: none; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.result: TestResult | None = None
        self.json_text = ""
        self._ready = False

    def compose(self) -> ComposeResult:
        """Summary, metadata, table/JSON tabs, traceback."""
        yield Static("", id="preview-summary", markup=False)
        yield Static("", id="preview-meta", markup=False)
        with TabbedContent(id="preview-tabs"):
            with TabPane("Table", id="preview-table-tab"):
                yield DataTable(id="preview-table", zebra_stripes=True, cursor_type="row")
            with TabPane("JSON", id="preview-json-tab"):
                # a rich Syntax (Pygments) view: TextArea's tree-sitter JSON grammar crashes the
                # interpreter with tree-sitter 0.26 + tree-sitter-json 0.24 (heap corruption)
                with VerticalScroll(id="preview-json"):
                    yield Static("", id="preview-json-text")
        yield TextArea("", read_only=True, id="preview-traceback")

    def clear(self) -> None:
        """Hide the preview (a new test is starting)."""
        self.result = None
        self.remove_class("-shown", "-passed", "-failed")

    def on_mount(self) -> None:
        """A result that arrived before the widget was ready is rendered now."""
        self._ready = True  # `is_mounted` turns True only after this handler returns
        if self.result is not None:
            self.show(self.result)

    def show(self, result: TestResult) -> None:
        """Render a test result (as soon as the widget is ready, if it is still mounting)."""
        self.result = result
        if not self._ready:
            return
        self.remove_class("-passed", "-failed")
        self.add_class("-shown", "-passed" if result.ok else "-failed")
        summary = self.query_one("#preview-summary", Static)
        meta = self.query_one("#preview-meta", Static)
        before = compact(result.metadata_before or {})
        after = "unchanged (the script saved none)" if result.metadata_after is None else \
            compact(result.metadata_after)
        if result.ok:
            shown = len(result.records)
            summary.update(
                f"✓ Test passed: {result.total:,} record{'s' if result.total != 1 else ''} in "
                f"{result.duration:.2f} s" + (f" · showing the first {shown}" if shown else ""))
            meta.update(f"Metadata before: {before}\nMetadata after:  {after}\n"
                        "Nothing was loaded and the metadata was not saved (this was a test).")
            self._fill_table(result)
            text = json.dumps(result.records, indent=2, ensure_ascii=False, default=str)
            self.json_text = text
            self.query_one("#preview-json-text", Static).update(
                Syntax(text, "json", theme="monokai", background_color="default", word_wrap=True))
        else:
            where = f" (line {result.error_line} of the script)" if result.error_line else ""
            summary.update(f"✗ Test failed{where}: {result.error or 'unknown error'}")
            meta.update(f"Metadata before: {before}\nRecords written before the failure: "
                        f"{result.total:,}. Nothing was loaded.")
            self.query_one("#preview-traceback", TextArea).load_text(
                result.traceback or result.error or "")

    def _fill_table(self, result: TestResult) -> None:
        table = self.query_one("#preview-table", DataTable)
        table.clear(columns=True)
        names = [name for name, _ in result.columns]
        for record in result.records:
            for key in record:
                if key not in names:
                    names.append(key)
        for name in names:
            table.add_column(name, key=name)
        for record in result.records:
            table.add_row(*[cell(record.get(n)) if n in record else Text("") for n in names])

    @property
    def table(self) -> DataTable:
        """The records table."""
        return self.query_one("#preview-table", DataTable)
