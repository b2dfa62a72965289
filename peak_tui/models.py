"""Domain objects: connections, feeds and runs, with validation that the CLI and the TUI share."""
from __future__ import annotations

import copy
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from peak_tui import validation as v
from peak_tui.errors import ValidationError

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "skipped")
TRIGGER_SOURCES = ("manual", "schedule", "webhook", "cli", "once", "catch-up")
RUNTIME_MINUTES_MAX = 7 * 24 * 60  # a runtime watcher waits at most a week
DESTINATION_TYPES = ("local", "s3", "redshift", "snowflake")


@dataclass
class Connection:
    """How a feed reaches its API: a name and an auth type, fixed once saved, plus auth settings."""

    name: str
    auth_type: str = "none"
    username: str = ""
    password: str = ""
    auth_url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    created_at: str = ""
    updated_at: str = ""

    def validate(self) -> Connection:
        """Check every rule; return self for chaining."""
        v.connection_name(self.name)
        v.auth_type(self.auth_type)
        if self.auth_type == "basic":
            if not self.username:
                raise ValidationError("connection.username", "is required for Basic Auth", self.username)
            if not self.password:
                raise ValidationError(
                    "connection.password", "is required for Basic Auth", None, show_value=False
                )
        if self.auth_type == "custom":
            self.auth_url = v.http_url("connection.auth_url", self.auth_url)
            self.headers = v.headers(self.headers)
            self.body = v.json_body(self.body)
        return self

    def secret_values(self) -> list[str]:
        """Every value of this connection that must never be shown."""
        from peak_tui.secrets import secret_values_of

        out: list[str] = []
        if self.password:
            out.append(self.password)
        out.extend(secret_values_of(self.headers))
        out.extend(secret_values_of(self.body))
        return out

    def public_dict(self) -> dict[str, Any]:
        """A dict safe to print: secret values are masked."""
        d = asdict(self)
        if d["password"]:
            d["password"] = "****"
        d["headers"] = {k: "****" for k in self.headers}
        d["body"] = _mask_leaves(self.body)
        return d


def _mask_leaves(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _mask_leaves(x) for k, x in obj.items()}
    if isinstance(obj, list):
        return [_mask_leaves(x) for x in obj]
    if obj is None or isinstance(obj, bool):
        return obj
    return "****"


def default_trigger() -> dict[str, Any]:
    """A feed with no trigger runs only when asked."""
    return {"type": "manual"}


def default_destination() -> dict[str, Any]:
    """The embedded local warehouse."""
    return {"type": "local"}


@dataclass
class Feed:
    """A feed: a script, its connection and dependencies, where it loads, and what runs it."""

    name: str
    connection: str
    script: str
    dependencies: list[str] = field(default_factory=list)
    load_type: str = "incremental"
    destination: dict[str, Any] = field(default_factory=default_destination)
    trigger: dict[str, Any] = field(default_factory=default_trigger)
    watchers: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    paused: bool = False
    failed_row_threshold: float = 0.0
    timeout_seconds: int = 3600
    memory_mb: int = 2048
    created_at: str = ""
    updated_at: str = ""

    def validate(self) -> Feed:
        """Check every rule; normalises lists in place and returns self."""
        from peak_tui.environments import normalize_requirements

        v.feed_name(self.name)
        v.connection_name(self.connection)
        if not isinstance(self.script, str):
            raise ValidationError("feed.script", "must be text (the Python source)", None,
                                  show_value=False)
        if not self.script.strip():
            raise ValidationError("feed.script", "must not be empty", None, show_value=False)
        # one line ending, as Python reads it: TOML export writes CRLF as LF, so a CRLF script
        # would otherwise come back from export/import changed
        self.script = self.script.replace("\r\n", "\n")
        try:
            # warnings (invalid escapes) would print to the terminal, under the TUI too
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(self.script, f"<feed {self.name}>", "exec")
        except SyntaxError as e:
            where = f" on line {e.lineno}" if e.lineno else ""  # null bytes have no line
            raise ValidationError(
                "feed.script", f"has a syntax error{where}: {e.msg}", None, show_value=False
            ) from None
        except ValueError as e:  # UnicodeEncodeError: a lone surrogate is not text Python can run
            raise ValidationError("feed.script", f"is not valid Unicode text: {e}", None,
                                  show_value=False) from None
        if not isinstance(self.dependencies or [], (list, tuple, str)):  # one string: its own message
            raise ValidationError("dependencies", "must be a list of requirements like "
                                  "['pandas>=2.0']", self.dependencies)
        self.dependencies = normalize_requirements(self.dependencies or [])
        if self.load_type not in v.LOAD_TYPES:
            raise ValidationError("feed.load_type", "must be 'incremental' (the only load type)", self.load_type)
        self.destination = validate_destination(self.destination)
        self.trigger = validate_trigger(self.trigger)
        if not isinstance(self.watchers or [], list):
            raise ValidationError("feed.watchers", "must be a list of watcher tables ([[watchers]])",
                                  None, show_value=False)
        self.watchers = [validate_watcher(w, i) for i, w in enumerate(self.watchers or [])]
        self.tags = v.tags(self.tags)
        if not isinstance(self.paused, bool):
            raise ValidationError("feed.paused", "must be true or false", self.paused)
        thr = self.failed_row_threshold
        if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not 0 <= thr <= 1:
            raise ValidationError("feed.failed_row_threshold", "must be a fraction from 0 to 1", thr)
        v.positive_number("feed.timeout_seconds", self.timeout_seconds, minimum=1, integer=True)
        v.positive_number("feed.memory_mb", self.memory_mb, minimum=64, integer=True)
        return self

    def to_dict(self) -> dict[str, Any]:
        """A plain, deep-copied dict of every field."""
        return copy.deepcopy(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feed:
        """Build from a dict, ignoring unknown keys' absence but refusing unknown keys."""
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValidationError("feed", f"has unknown keys: {', '.join(unknown)}", None, show_value=False)
        return cls(**copy.deepcopy(data))


def validate_destination(dest: Any) -> dict[str, Any]:
    """A destination: {'type': local|s3|redshift|snowflake, ...}."""
    if isinstance(dest, str):
        dest = {"type": dest}
    if not isinstance(dest, dict) or dest.get("type") not in DESTINATION_TYPES:
        got = dest.get("type") if isinstance(dest, dict) else dest
        raise ValidationError(
            "feed.destination", f"must be one of {', '.join(DESTINATION_TYPES)}", got
        )
    return dict(dest)


def validate_trigger(trigger: Any) -> dict[str, Any]:
    """A trigger: manual, schedule (basic or cron), webhook, or once at a date-time."""
    if isinstance(trigger, str):
        trigger = {"type": trigger}
    if not isinstance(trigger, dict) or trigger.get("type") not in v.TRIGGER_TYPES:
        got = trigger.get("type") if isinstance(trigger, dict) else trigger
        raise ValidationError("feed.trigger.type", f"must be one of {', '.join(v.TRIGGER_TYPES)}", got)
    t = dict(trigger)
    kind = t["type"]
    if kind == "schedule":
        from peak_tui import schedule

        if "timezone" in t:
            t["timezone"] = schedule.validate_timezone(t["timezone"])
        if t.get("cron"):
            schedule.validate(t["cron"])
        elif t.get("basic") is not None:  # a table; anything else gets the basic schedule's error
            schedule.BasicSchedule.from_dict(t["basic"])
        else:
            raise ValidationError(
                "feed.trigger", "a schedule needs either 'cron' or 'basic'", None, show_value=False
            )
    elif kind == "once":
        at = t.get("at")
        if not at:
            raise ValidationError("feed.trigger.at", "is required for a one-time trigger (an ISO "
                                  "date-time like 2026-12-01T09:30)", None, show_value=False)
        else:
            try:
                datetime.fromisoformat(str(at))
            except ValueError:
                raise ValidationError(
                    "feed.trigger.at", "must be an ISO date-time like 2026-12-01T09:30", at
                ) from None
    elif kind == "webhook":
        t.setdefault("hmac", False)
        if not isinstance(t["hmac"], bool):
            raise ValidationError("feed.trigger.hmac", "must be true or false", t["hmac"])
    return t


def validate_watcher(w: Any, index: int = 0) -> dict[str, Any]:
    """A watcher: events it listens to and the channel it notifies."""
    f = f"feed.watchers[{index}]"
    if not isinstance(w, dict):
        raise ValidationError(f, "must be a table with 'events' and 'channel'", w)
    w = dict(w)
    events = w.get("events")
    if not isinstance(events, list) or not events:
        raise ValidationError(f + ".events", f"must list one or more of {', '.join(v.WATCHER_EVENTS)}", events)
    for e in events:
        if e not in v.WATCHER_EVENTS:
            raise ValidationError(f + ".events", f"must be among {', '.join(v.WATCHER_EVENTS)}", e)
    if "runtime_exceeded" in events:
        minutes = v.positive_number(f + ".runtime_minutes", w.get("runtime_minutes"), minimum=1,
                                    integer=True)
        if minutes > RUNTIME_MINUTES_MAX:
            raise ValidationError(f + ".runtime_minutes", f"must be at most {RUNTIME_MINUTES_MAX} "
                                  "(a week)", minutes)
    channel = w.get("channel")
    if channel not in v.WATCHER_CHANNELS:
        raise ValidationError(f + ".channel", f"must be one of {', '.join(v.WATCHER_CHANNELS)}", channel)
    if channel == "email":
        to = w.get("to")
        if isinstance(to, str):
            to = [to]
        if not isinstance(to, list) or not to:
            raise ValidationError(f + ".to", "must list at least one email address", to)
        w["to"] = [v.email(f + ".to", x) for x in to]
    else:
        if not isinstance(w.get("name"), str) or not w["name"].strip():
            raise ValidationError(f + ".name", "is required for a webhook watcher", w.get("name"))
        w["url"] = v.http_url(f + ".url", w.get("url"))
        payload = w.get("payload")
        if payload is not None and not isinstance(payload, str):
            raise ValidationError(f + ".payload", "must be a JSON template string", payload)
        from peak_tui.notify import validate_template

        validate_template(payload, f + ".payload")  # unknown {placeholders}, JSON once filled in
    return w


@dataclass
class Run:
    """One execution of a feed: who started it, how it went, what it loaded."""

    id: int
    request_id: str
    feed: str
    trigger: str
    status: str
    queued_at: str
    started_at: str | None = None
    ended_at: str | None = None
    records: int = 0
    failed_rows: int = 0
    error: str | None = None
    metadata_before: Any = None
    metadata_after: Any = None
    catch_up: bool = False

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, when both are known."""
        if not self.started_at or not self.ended_at:
            return None
        a = datetime.fromisoformat(self.started_at)
        b = datetime.fromisoformat(self.ended_at)
        return (b - a).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, including the duration."""
        d = asdict(self)
        d["duration"] = self.duration
        return d
