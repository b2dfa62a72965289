"""Destinations a feed can load into; the workspace's data warehouse decides which are offered."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from peak_tui.destinations.base import Destination
from peak_tui.errors import ValidationError

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

# Which destinations each kind of workspace warehouse offers, as the platform defines them.
OFFERED: dict[str, tuple[str, ...]] = {
    "local": ("local",),
    "redshift": ("redshift", "s3"),
    "snowflake": ("snowflake",),
}
LABELS = {"local": "Local warehouse", "redshift": "Redshift", "s3": "S3", "snowflake": "Snowflake"}

# Factories for destinations other than local, registered by their modules.
FACTORIES: dict[str, Callable[[Workspace, dict[str, Any]], Destination]] = {}


def offered(ws: Workspace) -> tuple[str, ...]:
    """The destination types the workspace's warehouse allows."""
    return OFFERED.get(ws.warehouse_kind(), ("local",))


def get_destination(ws: Workspace, dest: dict[str, Any]) -> Destination:
    """Build the destination for a feed's setting."""
    import peak_tui.warehouse  # noqa: F401 - registers warehouse secrets with the redactor

    kind = dest.get("type", "local")
    if kind == "local":
        return ws.local
    if kind not in offered(ws):
        raise ValidationError(
            "feed.destination",
            f"is not offered by this workspace's data warehouse ({ws.warehouse_kind()}); "
            f"choose one of {', '.join(offered(ws))}",
            kind,
        )
    if kind not in FACTORIES and kind in ("s3", "redshift", "snowflake"):
        __import__(f"peak_tui.destinations.{kind}")  # the module registers its factory
    factory = FACTORIES.get(kind)
    if factory is None:
        raise ValidationError("feed.destination", "has no loader available in this build", kind)
    return factory(ws, dest)
