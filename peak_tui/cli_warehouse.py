"""CLI: `warehouse show|set|use|test` - the workspace's data warehouse and its connection settings.

Secret values never go on the command line (other users can read argv): pass them through an
environment variable (`--password-env VAR`) or stdin (`--password-stdin`).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from peak_tui import warehouse as _registers_secrets  # noqa: F401 - redacts warehouse secrets
from peak_tui.errors import ValidationError
from peak_tui.output import print_json
from peak_tui.warehouse_rules import FIELDS, KIND_LABELS, KINDS, SNOWFLAKE_AUTH


def _ws(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from peak_tui.workspace import Workspace

    return Workspace.open(args.home)


def _flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def _secret(args: argparse.Namespace, key: str, stdin_used: list[str]) -> str | None:
    env = getattr(args, f"{key}_env", None)
    if env:
        if env not in os.environ:
            raise ValidationError(f"{_flag(key)}-env", "names an unset environment variable", env)
        return os.environ[env]
    if getattr(args, f"{key}_stdin", False):
        stdin_used.append(key)
        if len(stdin_used) > 1:
            raise ValidationError(f"{_flag(key)}-stdin", "only one value can come from stdin; "
                                  "use --...-env for the others", None)
        text = sys.stdin.read() if key == "private_key" else sys.stdin.readline()
        return text if key == "private_key" else text.rstrip("\r\n")
    return None


def _changes(args: argparse.Namespace) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    stdin_used: list[str] = []
    for f in FIELDS[args.kind]:
        value = _secret(args, f.key, stdin_used) if f.secret else getattr(args, f.key, None)
        if value is not None:
            changes[f.key] = value
    return changes


def _print_settings(public: dict[str, Any]) -> None:
    kind = public["kind"]
    print(f"warehouse: {KIND_LABELS[kind]} ({kind})")
    for other in public["configured"]:
        values = {k: v for k, v in public[other].items() if v}
        print(f"\n{KIND_LABELS[other]} settings" + (" (current)" if other == kind else ""))
        for f in FIELDS[other]:
            if values.get(f.key):
                print(f"  {f.label:>18}: {values[f.key]}")


def _warn_stranded(public: dict[str, Any]) -> None:
    if public.get("stranded_feeds"):
        print(f"warning: this warehouse does not offer the destination of feeds "
              f"{', '.join(public['stranded_feeds'])}; their runs fail until you change it",
              file=sys.stderr)


def cmd_warehouse_show(args: argparse.Namespace) -> int:
    from peak_tui import warehouse

    public = warehouse.public(_ws(args))
    if args.json:
        print_json(public)
    else:
        _print_settings(public)
    return 0


def cmd_warehouse_set(args: argparse.Namespace) -> int:
    from peak_tui import warehouse

    ws = _ws(args)
    public = warehouse.save(ws, args.kind, _changes(args), activate=not args.no_activate)
    state = "saved" if args.no_activate else "saved; it is now the workspace's warehouse"
    print(f"{KIND_LABELS[args.kind]} settings {state}")
    _warn_stranded(public)
    if args.test:
        verdict = warehouse.test_connection(ws, args.kind)
        print(verdict.line())
        return 0 if verdict.ok else 1
    return 0


def cmd_warehouse_use(args: argparse.Namespace) -> int:
    from peak_tui import warehouse

    public = warehouse.use(_ws(args), args.kind)
    print(f"the workspace's warehouse is now {KIND_LABELS[args.kind]}")
    _warn_stranded(public)
    return 0


def cmd_warehouse_test(args: argparse.Namespace) -> int:
    from peak_tui import warehouse

    verdict = warehouse.test_connection(_ws(args), args.kind)
    if args.json:
        print_json(verdict.__dict__)
    else:
        print(verdict.line())
    return 0 if verdict.ok else 1


def register(sub: Any) -> None:
    """Add the `warehouse` command group."""
    group = sub.add_parser("warehouse", help="the workspace's data warehouse (local, Redshift + S3, "
                           "Snowflake)").add_subparsers(dest="command", metavar="ACTION")
    group.required = True
    p = group.add_parser("show", help="show the warehouse and its settings (secrets masked)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_warehouse_show)
    p = group.add_parser("use", help="switch to an already configured warehouse kind")
    p.add_argument("kind", choices=KINDS)
    p.set_defaults(func=cmd_warehouse_use)
    p = group.add_parser("test", help="test the connection: a clear verdict, and the cause on failure")
    p.add_argument("kind", nargs="?", choices=KINDS, help="default: the current warehouse")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_warehouse_test)
    setp = group.add_parser("set", help="change a warehouse kind's settings (merged with the saved "
                            "ones) and make it current").add_subparsers(dest="kind", metavar="KIND")
    setp.required = True
    for kind in KINDS:
        p = setp.add_parser(kind, help=KIND_LABELS[kind])
        for f in FIELDS[kind]:
            if f.secret:
                p.add_argument(f"{_flag(f.key)}-env", metavar="VAR", dest=f"{f.key}_env",
                               help=f"{f.help}: read from this environment variable")
                p.add_argument(f"{_flag(f.key)}-stdin", action="store_true", dest=f"{f.key}_stdin",
                               help=f"{f.help}: read from stdin")
            else:
                p.add_argument(_flag(f.key), dest=f.key, metavar="VALUE",
                               choices=SNOWFLAKE_AUTH if f.key == "auth" else None,
                               help=f.help + (f" (default {f.default})" if f.default else ""))
        p.add_argument("--no-activate", action="store_true",
                       help="save without making it the workspace's warehouse")
        p.add_argument("--test", action="store_true", help="test the connection after saving")
        p.set_defaults(func=cmd_warehouse_set, kind=kind)
