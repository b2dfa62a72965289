"""A workspace: one directory holding the database, feed environments and the local warehouse."""
from __future__ import annotations

import importlib
import os
from functools import cached_property
from pathlib import Path

from peak_tui.store import Store

DB_NAME = "peak.db"
# Modules that hold secrets outside connections (SMTP password, webhook HMAC secrets, warehouse
# credentials); each appends a source to Workspace._extra_secret_sources when imported.
SECRET_MODULES = ("peak_tui.notify_settings", "peak_tui.webhook_keys", "peak_tui.warehouse")


def resolve_home(home: str | os.PathLike[str] | None = None) -> Path:
    """`--home`, else $PEAK_TUI_HOME, else the platform's user data directory."""
    if home:
        return Path(home).expanduser().resolve()
    env = os.environ.get("PEAK_TUI_HOME")
    if env:
        return Path(env).expanduser().resolve()
    import platformdirs

    return Path(platformdirs.user_data_dir("peak-tui", appauthor=False)).resolve()


class Workspace:
    """The engine's entry point: connections, feeds, runs and destinations of one workspace."""

    def __init__(self, home: Path, *, recover: bool = True) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.store = Store(self.home / DB_NAME)
        if recover:
            from peak_tui.recovery import recover_stale_runs

            recover_stale_runs(self)

    @classmethod
    def open(cls, home: str | os.PathLike[str] | None = None) -> Workspace:
        """Open (creating if needed) the workspace at `home` or the default location."""
        return cls(resolve_home(home))

    # paths -------------------------------------------------------------------------------
    @property
    def locks_dir(self) -> Path:
        """Lock files: one per feed and one per live run."""
        return self.home / "locks"

    @property
    def tmp_dir(self) -> Path:
        """Per-run scratch directories (cleaned after each run)."""
        return self.home / "tmp"

    # parts -------------------------------------------------------------------------------
    @cached_property
    def box(self):  # type: ignore[no-untyped-def]
        """Encrypts and decrypts secrets at rest."""
        from peak_tui.secrets import SecretBox, load_key

        return SecretBox(load_key(self.home))

    @cached_property
    def envs(self):  # type: ignore[no-untyped-def]
        """The feed environments, keyed by their dependency list."""
        from peak_tui.environments import EnvironmentManager

        return EnvironmentManager(self.home / "envs")

    @cached_property
    def local(self):  # type: ignore[no-untyped-def]
        """The embedded local warehouse."""
        from peak_tui.destinations.local import LocalWarehouse

        return LocalWarehouse(self.home / "warehouse" / "local.db", self.home / "staging")

    @cached_property
    def connections(self):  # type: ignore[no-untyped-def]
        """Connection storage and rules."""
        from peak_tui.connections import Connections

        return Connections(self)

    @cached_property
    def feeds(self):  # type: ignore[no-untyped-def]
        """Feed storage and rules."""
        from peak_tui.feeds import Feeds

        return Feeds(self)

    @cached_property
    def runs(self):  # type: ignore[no-untyped-def]
        """Run records and their logs."""
        from peak_tui.runs import Runs

        return Runs(self)

    def destination(self, dest: dict) :  # type: ignore[no-untyped-def]
        """The destination object for a feed's destination setting."""
        from peak_tui.destinations import get_destination

        return get_destination(self, dest)

    def warehouse_kind(self) -> str:
        """The workspace's data warehouse: local, redshift or snowflake."""
        return str(self.store.get_setting("warehouse.kind", "local"))

    def redactor(self):  # type: ignore[no-untyped-def]
        """A redactor that knows every secret stored in this workspace."""
        from peak_tui.secrets import Redactor

        for module in SECRET_MODULES:  # each registers its secret source when imported
            importlib.import_module(module)
        r = Redactor()
        for conn in self.connections.list(with_secrets=True):
            if conn.auth_type == "basic":
                r.add_basic(conn.username, conn.password)
            r.add_many(conn.secret_values())
        for extra in self._extra_secret_sources:
            r.add_many(extra(self))
        return r

    # other modules (warehouses, SMTP) register functions that list their secrets here
    _extra_secret_sources: list = []

    def close(self) -> None:
        """Close this thread's database connection."""
        self.store.close()
