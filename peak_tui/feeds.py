"""Feeds in the workspace: save with validation, list with last-run facts, pause, tag, delete."""
from __future__ import annotations

import builtins
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from peak_tui.errors import Conflict, NotFound, ValidationError
from peak_tui.models import Feed
from peak_tui.store import dumps, loads, now_iso
from peak_tui.validation import tags as validate_tags

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

CONFIG_KEYS = ("script", "dependencies", "load_type", "destination", "trigger", "watchers",
               "failed_row_threshold", "timeout_seconds", "memory_mb")


@dataclass
class FeedSummary:
    """One line of the feed list: the feed and facts about its last run."""

    name: str
    connection: str
    tags: list[str]
    paused: bool
    trigger: dict[str, Any]
    destination: dict[str, Any]
    next_run_at: str | None
    last_run_id: int | None
    last_status: str | None
    last_started_at: str | None
    last_records: int | None
    dependencies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return dict(self.__dict__)


class Feeds:
    """Create, read, update and delete feeds."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.store = ws.store

    @staticmethod
    def _row_to_feed(row: dict[str, Any]) -> Feed:
        cfg = loads(row["config"], {})
        return Feed(
            name=row["name"], connection=row["connection"], tags=loads(row["tags"], []),
            paused=bool(row["paused"]), created_at=row["created_at"], updated_at=row["updated_at"],
            **{k: cfg[k] for k in CONFIG_KEYS if k in cfg},
        )

    def exists(self, name: str) -> bool:
        """Whether a feed of this name exists."""
        return self.store.query_one("SELECT 1 FROM feeds WHERE name=?", (name,)) is not None

    def get(self, name: str) -> Feed:
        """One feed by name."""
        row = self.store.query_one("SELECT * FROM feeds WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"no feed named {name!r}")
        return self._row_to_feed(row)

    def save(self, feed: Feed, *, create: bool | None = None) -> Feed:
        """Create or update a feed. `create=True` refuses an existing name, False a missing one."""
        feed.validate()
        if not self.ws.connections.exists(feed.connection):
            raise ValidationError("feed.connection", "must name an existing connection", feed.connection)
        from peak_tui.destinations import offered

        if feed.destination["type"] not in offered(self.ws):
            raise ValidationError(
                "feed.destination",
                f"is not offered by this workspace's warehouse ({self.ws.warehouse_kind()}); "
                f"choose one of {', '.join(offered(self.ws))}",
                feed.destination["type"],
            )
        cfg = dumps({k: getattr(feed, k) for k in CONFIG_KEYS})
        now = now_iso()
        with self.store.write() as c:
            row = c.execute("SELECT created_at, webhook_token FROM feeds WHERE name=?",
                            (feed.name,)).fetchone()
            if row is not None and create is True:
                raise Conflict(f"feed.name: a feed named {feed.name!r} already exists")
            if row is None and create is False:
                raise NotFound(f"no feed named {feed.name!r}")
            if row is None:
                # warehouse table names ignore case: Orders and orders would load into one table
                twin = c.execute("SELECT name FROM feeds WHERE name = ? COLLATE NOCASE",
                                 (feed.name,)).fetchone()
                if twin is not None:
                    raise Conflict(f"feed.name: {feed.name!r} differs only in case from the feed "
                                   f"{twin['name']!r}; both would load into one warehouse table")
            token = row["webhook_token"] if row is not None else None
            if feed.trigger.get("type") == "webhook" and not token:
                token = secrets.token_urlsafe(32)
            if row is None:
                c.execute(
                    "INSERT INTO feeds(name, connection, config, tags, paused, webhook_token, "
                    "created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                    (feed.name, feed.connection, cfg, dumps(feed.tags), int(feed.paused), token, now, now),
                )
                feed.created_at = now
            else:
                c.execute(
                    "UPDATE feeds SET connection=?, config=?, tags=?, paused=?, webhook_token=?, "
                    "updated_at=? WHERE name=?",
                    (feed.connection, cfg, dumps(feed.tags), int(feed.paused), token, now, feed.name),
                )
                feed.created_at = row["created_at"]
            feed.updated_at = now
        # registers the hook that keeps next_run_at current; imported on the first save, not when
        # the feed list is first read (schedule + zoneinfo: ~20-60 ms of the app's start-up)
        from peak_tui import schedule_state  # noqa: F401
        for hook in self.on_saved:
            hook(self.ws, feed)
        return feed

    # modules that derive state from feeds (the scheduler's next run) register here
    on_saved: list = []

    def list(self, *, name: str | None = None, tag: str | None = None,
             status: str | None = None) -> list[FeedSummary]:
        """Every feed with its last run, optionally filtered by name substring, tag or last status."""
        rows = self.store.query(
            "SELECT f.name, f.connection, f.tags, f.paused, f.config, f.next_run_at, f.last_run_id, "
            "r.status AS last_status, r.started_at AS last_started_at, r.records AS last_records "
            "FROM feeds f LEFT JOIN runs r ON r.id = f.last_run_id ORDER BY f.name"
        )
        out = []
        for r in rows:
            cfg = loads(r["config"], {})
            s = FeedSummary(
                name=r["name"], connection=r["connection"], tags=loads(r["tags"], []),
                paused=bool(r["paused"]), trigger=cfg.get("trigger", {"type": "manual"}),
                destination=cfg.get("destination", {"type": "local"}), next_run_at=r["next_run_at"],
                last_run_id=r["last_run_id"], last_status=r["last_status"],
                last_started_at=r["last_started_at"], last_records=r["last_records"],
                dependencies=list(cfg.get("dependencies") or []),
            )
            if name and name.lower() not in s.name.lower():
                continue
            if tag and tag.lower() not in [t.lower() for t in s.tags]:
                continue
            if status and (s.last_status or "never") != status and not (status == "paused" and s.paused):
                continue
            out.append(s)
        return out

    def delete(self, name: str) -> None:
        """Delete a feed and its run history; its table in the warehouse is kept."""
        with self.store.write() as c:
            if not c.execute("SELECT 1 FROM feeds WHERE name=?", (name,)).fetchone():
                raise NotFound(f"no feed named {name!r}")
            c.execute("DELETE FROM run_logs WHERE run_id IN (SELECT id FROM runs WHERE feed=?)", (name,))
            c.execute("DELETE FROM runs WHERE feed=?", (name,))
            c.execute("DELETE FROM feeds WHERE name=?", (name,))

    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or resume a feed's schedule and webhook runs."""
        with self.store.write() as c:
            cur = c.execute("UPDATE feeds SET paused=?, updated_at=? WHERE name=?",
                            (int(paused), now_iso(), name))
            if cur.rowcount == 0:
                raise NotFound(f"no feed named {name!r}")

    def set_tags(self, name: str, tags: builtins.list[str]) -> builtins.list[str]:
        """Replace a feed's tags."""
        clean = validate_tags(tags)
        with self.store.write() as c:
            cur = c.execute("UPDATE feeds SET tags=?, updated_at=? WHERE name=?",
                            (dumps(clean), now_iso(), name))
            if cur.rowcount == 0:
                raise NotFound(f"no feed named {name!r}")
        return clean

    def metadata(self, name: str) -> dict[str, Any]:
        """The metadata the feed's last successful run committed."""
        row = self.store.query_one("SELECT metadata FROM feeds WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"no feed named {name!r}")
        return loads(row["metadata"], {})

    def state(self, name: str) -> dict[str, Any]:
        """Engine-owned state of a feed: metadata, env key, webhook token, next run."""
        row = self.store.query_one(
            "SELECT metadata, metadata_request_id, env_key, webhook_token, webhook_secret, next_run_at, "
            "last_run_id FROM feeds WHERE name=?", (name,))
        if row is None:
            raise NotFound(f"no feed named {name!r}")
        row["metadata"] = loads(row["metadata"], {})
        return row
