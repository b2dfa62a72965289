"""A feed's webhook credentials: the URL token, the optional HMAC secret, and the URL callers use.

The token travels in the URL and is stored as is (it must be shown again); the HMAC secret is shown
once and stored encrypted with the workspace key. Both are registered with the redactor.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from peak_tui.errors import NotFound, PeakError, ValidationError
from peak_tui.store import loads
from peak_tui.workspace import Workspace

SIGNATURE_HEADER = "X-Peak-Signature"
TOKEN_BYTES = 32


def _feed_row(ws: Workspace, name: str) -> dict:
    row = ws.store.query_one(
        "SELECT name, config, paused, webhook_token, webhook_secret FROM feeds WHERE name=?", (name,))
    if row is None:
        raise NotFound(f"no feed named {name!r}")
    return row


def _require_webhook(row: dict) -> dict:
    trigger = loads(row["config"], {}).get("trigger") or {"type": "manual"}
    if trigger.get("type") != "webhook":
        raise ValidationError(
            "feed.trigger.type",
            f"feed {row['name']} is triggered by {trigger.get('type')}, not webhook; set its trigger "
            "to webhook first", trigger.get("type"))
    return trigger


def base_url(ws: Workspace) -> str:
    """Where callers reach the daemon: ``daemon.public_url``, else the running daemon, else settings."""
    from peak_tui import daemon

    cfg = daemon.config(ws)
    if cfg["public_url"]:
        return str(cfg["public_url"]).rstrip("/")
    status = daemon.daemon_status(ws)
    if status is not None and status.ready:
        return status.url
    host = str(cfg["host"])
    return f"http://{f'[{host}]' if ':' in host else host}:{cfg['port']}"


def hook_path(name: str, token: str) -> str:
    """The path of a feed's webhook."""
    return f"/hooks/{name}/{token}"


def webhook_url(ws: Workspace, name: str) -> str:
    """The full URL that runs the feed when POSTed to (the feed must be webhook-triggered)."""
    row = _feed_row(ws, name)
    _require_webhook(row)
    token = row["webhook_token"] or regenerate_token(ws, name)
    return base_url(ws) + hook_path(name, token)


def regenerate_token(ws: Workspace, name: str) -> str:
    """A new URL token; the old URL stops working at once."""
    _require_webhook(_feed_row(ws, name))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with ws.store.write() as c:
        c.execute("UPDATE feeds SET webhook_token=? WHERE name=?", (token, name))
    return token


def new_hmac_secret(ws: Workspace, name: str) -> str:
    """Create (or replace) the feed's HMAC secret; returns it — the only time it is shown."""
    _require_webhook(_feed_row(ws, name))
    secret = secrets.token_hex(32)
    with ws.store.write() as c:
        c.execute("UPDATE feeds SET webhook_secret=? WHERE name=?", (ws.box.encrypt(secret), name))
    return secret


def hmac_secret(ws: Workspace, name: str) -> str | None:
    """The feed's HMAC secret in clear, or None when none was made."""
    enc = _feed_row(ws, name)["webhook_secret"]
    return ws.box.decrypt(enc) if enc else None


def sign(secret: str, body: bytes) -> str:
    """The ``X-Peak-Signature`` value for a body: ``sha256=<hex HMAC-SHA256>``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    """Whether a signature header matches the body (constant-time)."""
    return hmac.compare_digest(sign(secret, body).encode(), (header or "").strip().lower().encode())


def webhook_secrets(ws: Workspace) -> list[str]:
    """Every webhook token and HMAC secret, for the redactor."""
    out: list[str] = []
    for row in ws.store.query("SELECT webhook_token, webhook_secret FROM feeds "
                              "WHERE webhook_token IS NOT NULL OR webhook_secret IS NOT NULL"):
        if row["webhook_token"]:
            out.append(row["webhook_token"])
        if row["webhook_secret"]:
            try:
                out.append(ws.box.decrypt(row["webhook_secret"]))
            except PeakError:  # an undecryptable secret cannot leak either
                continue
    return out


if webhook_secrets not in Workspace._extra_secret_sources:
    Workspace._extra_secret_sources.append(webhook_secrets)
