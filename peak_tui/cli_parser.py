"""The CLI's argument parser, kept apart from the command functions it dispatches to."""
from __future__ import annotations

import argparse
import importlib
from typing import Any, NoReturn

from peak_tui.validation import AUTH_TYPES

# Modules that add command groups: each has `register(subparsers)` and sets `func` on its parsers.
EXTENSIONS: tuple[str, ...] = ("peak_tui.cli_daemon", "peak_tui.cli_notify", "peak_tui.cli_warehouse")


class _Parser(argparse.ArgumentParser):
    """No abbreviated options: `--password x` must not pass as `--password-stdin` and echo `x`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        """Name unknown options but never echo their values: a value may be a secret."""
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            options = [w for w in message[len(prefix):].split() if w.startswith("-")]
            message = prefix + (" ".join(options) if options else "(values not shown)")
        super().error(message)


def _add_auth_args(p: argparse.ArgumentParser, *, adding: bool) -> None:
    if adding:
        p.add_argument("--auth", choices=AUTH_TYPES, default="none", help="auth type (fixed once saved)")
    else:
        p.add_argument("--auth", choices=AUTH_TYPES, help=argparse.SUPPRESS)
    p.add_argument("--username", help="basic: the username")
    p.add_argument("--password-stdin", action="store_true", help="basic: read the password from stdin")
    p.add_argument("--secret-env", metavar="VAR", help="basic: read the password from this env variable")
    p.add_argument("--auth-url", help="custom: the authorization URL")
    p.add_argument("--header", action="append", metavar="'Key: Value'", help="custom: a request header")
    p.add_argument("--header-env", action="append", metavar="Key=VAR",
                   help="custom: a request header whose value is read from an env variable")
    p.add_argument("--body", metavar="JSON|@FILE|-", help="custom: the JSON body (inline, file, or stdin)")
    p.add_argument("--body-env", metavar="VAR", help="custom: the JSON body from an env variable")


def build_parser(cmds: dict[str, Any]) -> argparse.ArgumentParser:
    """The full `peak-tui` parser; `cmds` maps command function names to functions."""
    parser = _Parser(
        prog="peak-tui",
        description="Author, test and run REST API connector feeds. With no command, opens the app.",
    )
    parser.add_argument("--home", metavar="DIR", help="workspace directory (default: $PEAK_TUI_HOME or "
                        "the user data directory)")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")

    def json_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--json", action="store_true", help="machine-readable output")

    conn = sub.add_parser("connection", help="manage connections").add_subparsers(dest="command",
                                                                                   metavar="ACTION")
    conn.required = True
    p = conn.add_parser("add", help="add a connection")
    p.add_argument("name")
    _add_auth_args(p, adding=True)
    p.set_defaults(func=cmds["cmd_connection_add"])
    p = conn.add_parser("edit", help="change a connection's editable fields")
    p.add_argument("name")
    _add_auth_args(p, adding=False)
    p.set_defaults(func=cmds["cmd_connection_edit"])
    for name, fn, helptext in (("list", "cmd_connection_list", "list connections"),):
        p = conn.add_parser(name, help=helptext)
        json_flag(p)
        p.set_defaults(func=cmds[fn])
    p = conn.add_parser("show", help="show a connection (secrets masked)")
    p.add_argument("name")
    json_flag(p)
    p.set_defaults(func=cmds["cmd_connection_show"])
    p = conn.add_parser("delete", help="delete a connection no feed uses")
    p.add_argument("name")
    p.set_defaults(func=cmds["cmd_connection_delete"])

    feed = sub.add_parser("feed", help="manage, test and run feeds").add_subparsers(dest="command",
                                                                                    metavar="ACTION")
    feed.required = True
    p = feed.add_parser("import", help="create or update a feed from a TOML file")
    p.add_argument("file")
    json_flag(p)
    p.set_defaults(func=cmds["cmd_feed_import"])
    p = feed.add_parser("export", help="print a feed as TOML (never holds secrets)")
    p.add_argument("name")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(func=cmds["cmd_feed_export"])
    p = feed.add_parser("list", help="list feeds with their last run")
    p.add_argument("--name", help="only names containing this")
    p.add_argument("--tag", help="only feeds with this tag")
    p.add_argument("--status", help="only feeds whose last run has this status (or 'never', 'paused')")
    json_flag(p)
    p.set_defaults(func=cmds["cmd_feed_list"])
    for name, fn, helptext in (
        ("show", "cmd_feed_show", "show a feed and its metadata"),
        ("delete", "cmd_feed_delete", "delete a feed and its run history"),
        ("pause", "cmd_feed_pause", "pause schedule and webhook runs"),
        ("resume", "cmd_feed_pause", "resume schedule and webhook runs"),
    ):
        p = feed.add_parser(name, help=helptext)
        p.add_argument("name")
        if name == "show":
            json_flag(p)
        p.set_defaults(func=cmds[fn])
    p = feed.add_parser("tags", help="show or replace a feed's tags")
    p.add_argument("name")
    p.add_argument("tags", nargs="*")
    p.add_argument("--clear", action="store_true", help="remove every tag")
    p.set_defaults(func=cmds["cmd_feed_tags"])
    for name, fn, helptext in (
        ("test", "cmd_feed_test", "run the script, preview records; loads and commits nothing"),
        ("run", "cmd_feed_run", "run the feed: load its records and commit its metadata"),
    ):
        p = feed.add_parser(name, help=helptext)
        p.add_argument("name")
        p.add_argument("-q", "--quiet", action="store_true", help="do not stream logs to stderr")
        json_flag(p)
        p.set_defaults(func=cmds[fn])

    p = sub.add_parser("runs", help="list runs, newest first")
    p.add_argument("feed", nargs="?")
    p.add_argument("--limit", type=int, default=50)
    json_flag(p)
    p.set_defaults(func=cmds["cmd_runs"])
    p = sub.add_parser("logs", help="print a run's stored log")
    p.add_argument("run_id", type=int)
    p.set_defaults(func=cmds["cmd_logs"])
    p = sub.add_parser("sql", help="read-only SQL against the local warehouse")
    p.add_argument("query")
    json_flag(p)
    p.set_defaults(func=cmds["cmd_sql"])
    p = sub.add_parser("demo-api", help="serve the bundled demo REST API on 127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.set_defaults(func=cmds["cmd_demo_api"])
    p = sub.add_parser("demo", help="serve the bundled demo API, install the demo feeds, open the app")
    p.add_argument("--headless", action="store_true",
                   help="no app: run the demo feed once and print what landed in the warehouse")
    p.set_defaults(func=cmds["cmd_demo"])
    for module in EXTENSIONS:
        importlib.import_module(module).register(sub)
    return parser
