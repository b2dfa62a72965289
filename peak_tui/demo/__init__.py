"""Demo feed scripts shipped with peak-tui, read as text (they import ``lib``: never import them)."""
from __future__ import annotations

from importlib import resources

SCRIPTS: tuple[str, ...] = ("orders", "customers_basic", "invoices_custom", "template")
"""Names of the bundled feed scripts; ``script(name)`` returns the text of ``<name>.py``."""

PLACEHOLDER_URL = "http://127.0.0.1:8765"
"""The demo API address in every script's ``BASE_URL = ...`` line; ``with_base_url`` swaps it."""


def script(name: str) -> str:
    """Return the source text of the bundled feed script ``name`` (with or without ``.py``)."""
    stem = name.removesuffix(".py")
    if stem not in SCRIPTS:
        raise ValueError(f"no demo script named {name!r}; choose one of {', '.join(SCRIPTS)}")
    text = resources.files(__name__).joinpath(f"{stem}.py").read_text(encoding="utf-8")
    # Each file ends with a lint directive for this repo's ruff; users never need to see it.
    kept = [line for line in text.splitlines() if not line.startswith("# ruff:")]
    return "\n".join(kept).rstrip() + "\n"


def with_base_url(source: str, base_url: str) -> str:
    """Point a script at ``base_url`` by rewriting its ``BASE_URL = "..."`` placeholder line."""
    return source.replace(f'BASE_URL = "{PLACEHOLDER_URL}"', f'BASE_URL = "{base_url.rstrip("/")}"', 1)
