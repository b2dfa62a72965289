"""The feed TOML format: import (create or update) and export, which round-trips and holds no secrets.

Keys: name, connection, dependencies, script | script_file, destination, trigger, watchers, tags,
and the optional limits. Only name, connection and a script are required.
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from peak_tui.errors import ValidationError
from peak_tui.models import Feed

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

KEYS = ("name", "connection", "dependencies", "script", "script_file", "load_type", "destination",
        "trigger", "watchers", "tags", "paused", "failed_row_threshold", "timeout_seconds", "memory_mb")
DEFAULTS = Feed(name="x", connection="x", script="x")


def parse(text: str, base_dir: Path | None = None, source: str = "feed TOML") -> Feed:
    """Read a feed from TOML text; `script_file` is relative to `base_dir`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValidationError("toml", f"is not valid TOML: {e}", source) from None
    except RecursionError:
        raise ValidationError("toml", "is not valid TOML: its arrays or tables are nested too "
                              "deeply", source) from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValidationError("toml", f"has unknown key {unknown[0]!r}; known keys: {', '.join(KEYS)}",
                              unknown[0])
    for key in ("name", "connection"):
        if key not in data:
            raise ValidationError(f"toml.{key}", "is required", None, show_value=False)
    if "script" in data and "script_file" in data:
        raise ValidationError("toml.script", "give either 'script' or 'script_file', not both", None,
                              show_value=False)
    if "script_file" in data:
        rel = data.pop("script_file")
        if not isinstance(rel, str):
            raise ValidationError("toml.script_file", "must be a path", rel)
        path = (base_dir or Path.cwd()) / rel
        try:
            data["script"] = path.read_text(encoding="utf-8")
        except OSError as e:
            raise ValidationError("toml.script_file", f"cannot be read: {e.strerror}", str(path)) from None
        except UnicodeDecodeError:
            raise ValidationError("toml.script_file", "is not UTF-8 text", str(path)) from None
    if "script" not in data:
        raise ValidationError("toml.script", "is required (or 'script_file')", None, show_value=False)
    try:
        feed = Feed.from_dict(data)
    except TypeError as e:
        raise ValidationError("toml", f"has a value of the wrong kind: {e}", None, show_value=False) from None
    return feed.validate()


def load(path: Path) -> Feed:
    """Read a feed TOML file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ValidationError("file", f"cannot be read: {e.strerror}", str(path)) from None
    except UnicodeDecodeError:
        raise ValidationError("file", "is not UTF-8 text (TOML files are UTF-8)", str(path)) from None
    return parse(text, Path(path).parent, str(path))


def to_toml(feed: Feed) -> str:
    """The canonical TOML of a feed: defaults omitted, shorthand where a table has only its type."""
    d: dict[str, Any] = {"name": feed.name, "connection": feed.connection}
    if feed.dependencies:
        d["dependencies"] = list(feed.dependencies)
    for key in ("destination", "trigger"):
        val = getattr(feed, key)
        d[key] = val["type"] if set(val) == {"type"} else dict(val)
    if feed.watchers:
        d["watchers"] = [dict(w) for w in feed.watchers]
    if feed.tags:
        d["tags"] = list(feed.tags)
    for key in ("paused", "failed_row_threshold", "timeout_seconds", "memory_mb"):
        if getattr(feed, key) != getattr(DEFAULTS, key):
            d[key] = getattr(feed, key)
    d["script"] = feed.script
    return tomli_w.dumps(d, multiline_strings=True)


def export(ws: Workspace, name: str) -> str:
    """A feed as TOML, with any known secret value masked (a script may hold one by mistake)."""
    text = to_toml(ws.feeds.get(name))
    return ws.redactor().redact(text)


def import_file(ws: Workspace, path: Path) -> tuple[Feed, bool]:
    """Create or update a feed from a TOML file; returns the feed and whether it was created."""
    feed = load(path)
    created = not ws.feeds.exists(feed.name)
    if not created:
        current = ws.feeds.get(feed.name)
        feed.created_at = current.created_at
    return ws.feeds.save(feed), created
