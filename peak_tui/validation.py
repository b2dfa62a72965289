"""The product's rules for names, auth, tags and feed settings, in one place for the CLI and the TUI."""
from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import urlparse

from peak_tui.errors import ValidationError

AUTH_TYPES = ("none", "basic", "custom")
AUTH_LABELS = {"none": "No Auth", "basic": "Basic Auth", "custom": "Custom Auth"}
LOAD_TYPES = ("incremental",)
TRIGGER_TYPES = ("manual", "schedule", "webhook", "once")
WATCHER_EVENTS = ("success", "failure", "runtime_exceeded")
WATCHER_CHANNELS = ("email", "webhook")

CONNECTION_NAME_MAX = 64
FEED_NAME_MAX = 50
TAG_MAX = 32

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_FEED_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# one plain address: no spaces, control characters, lists (,;) or display-name syntax (<>()"\[])
_EMAIL = re.compile(r'[^@\s,;<>()\[\]\\"\x00-\x1f\x7f]+@[^@\s,;<>()\[\]\\"\x00-\x1f\x7f]+'
                    r'\.[^@\s,;<>()\[\]\\"\x00-\x1f\x7f]+')


def connection_name(value: Any) -> str:
    """A connection name: letters and digits only, 1-64 characters."""
    if not isinstance(value, str) and value is not None:
        raise ValidationError("connection.name", "must be text", value)
    if not value:
        raise ValidationError("connection.name", "is required", value)
    if not _ALNUM.fullmatch(value):
        raise ValidationError("connection.name", "must be alphanumeric (letters and digits only)", value)
    if len(value) > CONNECTION_NAME_MAX:
        raise ValidationError(
            "connection.name", f"must be at most {CONNECTION_NAME_MAX} characters", value
        )
    return value


def feed_name(value: Any) -> str:
    """A feed name: letters, digits and underscores, starts with a letter, no trailing underscore, <= 50."""
    if not isinstance(value, str) and value is not None:
        raise ValidationError("feed.name", "must be text", value)
    if not value:
        raise ValidationError("feed.name", "is required", value)
    if not value[0].isascii() or not value[0].isalpha():
        raise ValidationError("feed.name", "must start with a letter", value)
    if not _FEED_NAME.fullmatch(value):
        raise ValidationError(
            "feed.name", "may contain only letters, digits and underscores", value
        )
    if value.endswith("_"):
        raise ValidationError("feed.name", "must not end with an underscore", value)
    if len(value) > FEED_NAME_MAX:
        raise ValidationError("feed.name", f"must be at most {FEED_NAME_MAX} characters", value)
    return value


def tag(value: Any) -> str:
    """A tag: letters and digits only, 1-32 characters."""
    if not isinstance(value, str) and value is not None:
        raise ValidationError("feed.tags", "a tag must be text", value)
    if not value:
        raise ValidationError("feed.tags", "a tag must not be empty", value)
    if not _ALNUM.fullmatch(value):
        raise ValidationError("feed.tags", "a tag must be alphanumeric (letters and digits only)", value)
    if len(value) > TAG_MAX:
        raise ValidationError("feed.tags", f"a tag must be at most {TAG_MAX} characters", value)
    return value


def tags(values: Any) -> list[str]:
    """A list of tags, de-duplicated, order kept."""
    if values is None:
        return []
    if not isinstance(values, (list, tuple)):
        raise ValidationError("feed.tags", "must be a list of tags", values)
    seen: list[str] = []
    for v in values:
        t = tag(v)
        if t not in seen:
            seen.append(t)
    return seen


def auth_type(value: Any) -> str:
    """One of none, basic, custom."""
    if value not in AUTH_TYPES:
        raise ValidationError("connection.auth_type", f"must be one of {', '.join(AUTH_TYPES)}", value)
    return str(value)


def http_url(field: str, value: Any) -> str:
    """An absolute http(s) URL."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "is required", value)
    text = value.strip()
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise ValidationError(field, "must not contain spaces or control characters "
                              "(percent-encode them, e.g. %20)", value)
    try:
        parsed = urlparse(text)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as e:  # "http://[" (Invalid IPv6 URL), "http://h:99999"
        raise ValidationError(field, f"is not a valid URL: {e}", value) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValidationError(field, "must be an http:// or https:// URL", value)
    return text


def header_name(value: Any) -> str:
    """An HTTP header name (RFC 9110 token)."""
    if not isinstance(value, str) or not _HEADER_NAME.fullmatch(value):
        raise ValidationError(
            "connection.headers", "a header name must be a non-empty HTTP token (no spaces or colons)", value
        )
    return value


def headers(value: Any) -> dict[str, str]:
    """Request headers as a name -> value mapping; values are secrets so they are never echoed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError("connection.headers", "must be a mapping of header name to value", value)
    out: dict[str, str] = {}
    for k, v in value.items():
        header_name(k)
        if not isinstance(v, str) or "\n" in v or "\r" in v:
            raise ValidationError(
                "connection.headers", f"the value of header {k!r} must be one line of text", None,
                show_value=False,
            )
        out[k] = v
    return out


def parse_header_line(line: str) -> tuple[str, str]:
    """Parse 'Key: Value' as the CLI's --header takes it."""
    if ":" not in line:
        raise ValidationError("connection.headers", "a header must look like 'Name: value'", line.split(":")[0])
    name, _, val = line.partition(":")
    return header_name(name.strip()), val.strip()


def json_body(value: Any) -> Any:
    """The custom-auth JSON body: JSON text is parsed; a parsed object must be a JSON object."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise ValidationError(
                "connection.body", f"must be valid JSON: {e.msg} at line {e.lineno} column {e.colno}",
                None, show_value=False,
            ) from None
        except RecursionError:
            raise ValidationError("connection.body", "must be valid JSON: it is nested too deeply",
                                  None, show_value=False) from None
    if not isinstance(value, dict):
        raise ValidationError("connection.body", "must be a JSON object ({...})", None, show_value=False)
    return value


def positive_number(field: str, value: Any, *, minimum: float = 0, integer: bool = False) -> Any:
    """A number at or above a minimum."""
    ok_type = int if integer else (int, float)
    if (isinstance(value, bool) or not isinstance(value, ok_type)
            or (isinstance(value, float) and not math.isfinite(value)) or value < minimum):
        kind = "a whole number" if integer else "a number"
        raise ValidationError(field, f"must be {kind} >= {minimum:g}", value)
    return value


def email(field: str, value: Any) -> str:
    """An email address."""
    if not isinstance(value, str) or not _EMAIL.fullmatch(value.strip()):
        raise ValidationError(field, "must be an email address like name@example.com", value)
    return value.strip()
