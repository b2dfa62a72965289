"""The workspace's data warehouse: which kind (local, Redshift + S3, Snowflake) and its settings.

Plain settings live in the workspace database as `warehouse.<kind>`; the secret parts (Snowflake
password, private key text, passphrase) are encrypted with the workspace key in
`warehouse.<kind>.secrets` and never appear in plain settings, `show` output or logs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from peak_tui.errors import DestinationError, PeakError, ValidationError
from peak_tui.secrets import MASK
from peak_tui.warehouse_rules import FIELDS, KIND_LABELS, KINDS, clean, secret_keys, validate
from peak_tui.workspace import Workspace

if TYPE_CHECKING:
    from peak_tui.destinations.base import Destination

KIND_SETTING = "warehouse.kind"


def _plain_key(kind: str) -> str:
    return f"warehouse.{kind}"


def _secret_key(kind: str) -> str:
    return f"warehouse.{kind}.secrets"


def stored(ws: Workspace, kind: str) -> dict[str, str]:
    """A kind's saved settings with secrets decrypted (possibly incomplete; not validated)."""
    if kind not in KINDS:
        raise ValidationError("warehouse.kind", f"must be one of {', '.join(KINDS)}", kind)
    values = dict(ws.store.get_setting(_plain_key(kind), {}) or {})
    token = ws.store.get_setting(_secret_key(kind))
    if token:
        values.update(ws.box.decrypt_json(token))
    return clean(kind, {k: v for k, v in values.items() if k in {f.key for f in FIELDS[kind]}})


def settings(ws: Workspace, kind: str) -> dict[str, str]:
    """A kind's complete, checked settings; DestinationError saying what to set when incomplete."""
    values = stored(ws, kind)
    try:
        return validate(kind, values)
    except ValidationError as e:
        raise DestinationError(
            f"the workspace's {KIND_LABELS[kind]} settings are incomplete or invalid: {e.message}. "
            f"Set them with `peak-tui warehouse set {kind} ...` or in the Warehouse screen",
            title="Warehouse not configured",
        ) from None


def save(ws: Workspace, kind: str, changes: dict[str, Any], *,
         activate: bool = True) -> dict[str, Any]:
    """Merge changes into a kind's settings, check the whole, store it; optionally make it current."""
    merged = stored(ws, kind)
    merged.update(changes)
    values = validate(kind, merged)
    secret = {k: values[k] for k in secret_keys(kind) if values.get(k)}
    plain = {k: v for k, v in values.items() if k not in secret_keys(kind)}
    if kind != "local":
        ws.store.set_setting(_plain_key(kind), plain)
        ws.store.set_setting(_secret_key(kind), ws.box.encrypt_json(secret) if secret else None)
    if activate:
        ws.store.set_setting(KIND_SETTING, kind)
    return public(ws)


def use(ws: Workspace, kind: str) -> dict[str, Any]:
    """Make a configured kind the workspace's warehouse."""
    if kind != "local":
        settings(ws, kind)
    ws.store.set_setting(KIND_SETTING, kind)
    return public(ws)


def stranded(ws: Workspace, kind: str | None = None) -> list[str]:
    """Feeds whose destination the (given or current) warehouse kind does not offer; their runs
    fail with a clear error until their destination is changed."""
    from peak_tui.destinations import OFFERED

    kind = kind or ws.warehouse_kind()
    return [f"{s.name} ({s.destination.get('type', 'local')})" for s in ws.feeds.list()
            if s.destination.get("type", "local") not in OFFERED[kind]]


def public(ws: Workspace) -> dict[str, Any]:
    """Every kind's settings with secrets masked, and the current kind."""
    out: dict[str, Any] = {"kind": ws.warehouse_kind(), "stranded_feeds": stranded(ws),
                           "configured": [k for k in KINDS[1:] if ws.store.get_setting(_plain_key(k))]}
    for kind in KINDS[1:]:
        values = stored(ws, kind)
        out[kind] = {k: (MASK if k in secret_keys(kind) and v else v) for k, v in values.items()}
    return out


def secret_values(ws: Workspace) -> list[str]:
    """Every stored warehouse secret, for the redactor (PEM keys also line by line)."""
    out: list[str] = []
    for kind in KINDS[1:]:
        try:
            token = ws.store.get_setting(_secret_key(kind))
            values = ws.box.decrypt_json(token) if token else {}
        except PeakError:
            continue
        for val in values.values():
            if isinstance(val, str) and val:
                out.append(val)
                out.extend(line.strip() for line in val.splitlines()
                           if len(line.strip()) >= 16 and not line.startswith("-----"))
    return out


Workspace._extra_secret_sources.append(secret_values)


@dataclass
class Verdict:
    """The outcome of a connection test: a clear yes or no, and on failure the cause."""

    ok: bool
    kind: str
    message: str
    seconds: float

    def line(self) -> str:
        """One line for a terminal or a status bar."""
        head = "connection OK" if self.ok else "connection FAILED"
        return f"{head} ({KIND_LABELS[self.kind]}, {self.seconds:.1f} s): {self.message}"


def destination_for(ws: Workspace, kind: str, values: dict[str, str],
                    dest_type: str | None = None) -> Destination:
    """A destination object for given (possibly unsaved) settings of a kind."""
    if kind == "local":
        return ws.local
    if kind == "snowflake":
        from peak_tui.destinations.snowflake import SnowflakeDestination

        return SnowflakeDestination(ws, values)
    from peak_tui.destinations.redshift import RedshiftDestination
    from peak_tui.destinations.s3 import S3Destination

    if dest_type == "s3":
        return S3Destination(ws, values)
    return RedshiftDestination(ws, values)


def test_connection(ws: Workspace, kind: str | None = None,
                    values: dict[str, Any] | None = None) -> Verdict:
    """Try the warehouse with saved settings (or the given unsaved ones); never raises."""
    kind = kind or ws.warehouse_kind()
    started = time.monotonic()
    redactor = ws.redactor()
    try:
        if values is not None:
            checked = validate(kind, {**stored(ws, kind), **values}) if kind != "local" else {}
            redactor.add_many(v for k, v in checked.items() if k in secret_keys(kind) and v)
        else:
            checked = settings(ws, kind) if kind != "local" else {}
        message = destination_for(ws, kind, checked).check()
        ok = True
    except PeakError as e:
        ok, message = False, e.message
    except Exception as e:  # a driver's unexpected error is still a verdict, never a traceback
        ok, message = False, f"{type(e).__name__}: {e}"
    return Verdict(ok, kind, redactor.redact(message), time.monotonic() - started)
