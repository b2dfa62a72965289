"""The headless CLI: everything the TUI does, for scripts, cron and CI. `peak-tui --help` lists it."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from peak_tui.errors import PeakError, ValidationError
from peak_tui.output import ProgressLine, duration, print_json, table


def _ws(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from peak_tui.workspace import Workspace

    return Workspace.open(args.home)


def _secret_from(args: argparse.Namespace, what: str) -> str | None:
    """A secret from --secret-env VAR or, with --password-stdin/--secret-stdin, from stdin."""
    if getattr(args, "secret_env", None):
        val = os.environ.get(args.secret_env)
        if val is None:
            raise ValidationError("--secret-env", f"names an unset environment variable (for {what})",
                                  args.secret_env)
        return val
    if getattr(args, "password_stdin", False) or getattr(args, "secret_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    return None


def _headers(args: argparse.Namespace) -> dict[str, str] | None:
    from peak_tui.validation import header_name, parse_header_line

    if not args.header and not args.header_env:
        return None
    out: dict[str, str] = {}
    for line in args.header or []:
        k, v = parse_header_line(line)
        out[k] = v
    for spec in args.header_env or []:
        name, sep, var = spec.partition("=")
        if not sep or not var:
            raise ValidationError("--header-env", "must look like 'Header-Name=ENV_VAR'", spec)
        if var not in os.environ:
            raise ValidationError("--header-env", "names an unset environment variable", var)
        out[header_name(name.strip())] = os.environ[var]
    return out


def _body(args: argparse.Namespace) -> Any:
    from peak_tui.validation import json_body

    if args.body_env:
        if args.body_env not in os.environ:
            raise ValidationError("--body-env", "names an unset environment variable", args.body_env)
        return json_body(os.environ[args.body_env])
    if args.body is None:
        return None
    text = args.body
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as e:
            raise ValidationError("--body", f"file cannot be read: {e.strerror}", text[1:]) from None
    return json_body(text)


# connections ---------------------------------------------------------------------------------
def cmd_connection_add(args: argparse.Namespace) -> int:
    from peak_tui.models import Connection

    ws = _ws(args)
    conn = Connection(name=args.name, auth_type=args.auth)
    if args.auth == "basic":
        conn.username = args.username or ""
        conn.password = _secret_from(args, "the password") or ""
    elif args.auth == "custom":
        conn.auth_url = args.auth_url or ""
        conn.headers = _headers(args) or {}
        conn.body = _body(args)
    ws.connections.add(conn)
    print(f"connection {conn.name} added ({conn.auth_type})")
    return 0


def cmd_connection_edit(args: argparse.Namespace) -> int:
    ws = _ws(args)
    changes: dict[str, Any] = {}
    if args.auth is not None:
        changes["auth_type"] = args.auth
    if args.username is not None:
        changes["username"] = args.username
    secret = _secret_from(args, "the password")
    if secret is not None:
        changes["password"] = secret
    if args.auth_url is not None:
        changes["auth_url"] = args.auth_url
    headers = _headers(args)
    if headers is not None:
        changes["headers"] = headers
    if args.body is not None or args.body_env:
        changes["body"] = _body(args)
    if not changes:
        raise ValidationError("connection edit", "needs at least one field to change", None, show_value=False)
    ws.connections.update(args.name, **changes)
    print(f"connection {args.name} updated")
    return 0


def cmd_connection_list(args: argparse.Namespace) -> int:
    ws = _ws(args)
    conns = ws.connections.list()
    if args.json:
        print_json([c.public_dict() for c in conns])
        return 0
    rows = [[c.name, c.auth_type, c.username or c.auth_url, ", ".join(ws.connections.used_by(c.name))]
            for c in conns]
    table(["name", "auth", "user / auth url", "used by"], rows)
    return 0


def cmd_connection_show(args: argparse.Namespace) -> int:
    ws = _ws(args)
    conn = ws.connections.get(args.name)
    d = conn.public_dict()
    d["used_by"] = ws.connections.used_by(conn.name)
    if args.json:
        print_json(d)
    else:
        for k, v in d.items():
            print(f"{k:>12}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
    return 0


def cmd_connection_delete(args: argparse.Namespace) -> int:
    _ws(args).connections.delete(args.name)
    print(f"connection {args.name} deleted")
    return 0


# feeds ---------------------------------------------------------------------------------------
def cmd_feed_import(args: argparse.Namespace) -> int:
    from peak_tui.feedfile import import_file

    feed, created = import_file(_ws(args), Path(args.file))
    if args.json:
        print_json({"name": feed.name, "created": created})
    else:
        print(f"feed {feed.name} {'created' if created else 'updated'}")
    return 0


def cmd_feed_export(args: argparse.Namespace) -> int:
    from peak_tui.feedfile import export

    text = export(_ws(args), args.name)
    if args.output:
        Path(args.output).write_text(text)
        print(f"feed {args.name} exported to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_feed_list(args: argparse.Namespace) -> int:
    ws = _ws(args)
    feeds = ws.feeds.list(name=args.name, tag=args.tag, status=args.status)
    if args.json:
        print_json([f.to_dict() for f in feeds])
        return 0
    rows = [[f.name, f.connection, f.last_status or "never", (f.last_started_at or "")[:19],
             f.last_records, f.next_run_at or "", ",".join(f.tags), "yes" if f.paused else ""]
            for f in feeds]
    table(["feed", "connection", "last run", "started", "records", "next run", "tags", "paused"], rows)
    return 0


def cmd_feed_show(args: argparse.Namespace) -> int:
    from peak_tui.feedfile import export

    ws = _ws(args)
    feed = ws.feeds.get(args.name)
    state = ws.feeds.state(args.name)
    if args.json:
        d = feed.to_dict()
        d["metadata"] = ws.redactor().redact_obj(state["metadata"])
        d["last_run_id"] = state["last_run_id"]
        d["next_run_at"] = state["next_run_at"]
        print_json(d)
    else:
        sys.stdout.write(export(ws, args.name))
        print(f"# metadata: {json.dumps(ws.redactor().redact_obj(state['metadata']))}")
    return 0


def cmd_feed_delete(args: argparse.Namespace) -> int:
    _ws(args).feeds.delete(args.name)
    print(f"feed {args.name} deleted (its table in the warehouse is kept)")
    return 0


def cmd_feed_pause(args: argparse.Namespace) -> int:
    _ws(args).feeds.set_paused(args.name, args.command == "pause")
    print(f"feed {args.name} {'paused' if args.command == 'pause' else 'resumed'}")
    return 0


def cmd_feed_tags(args: argparse.Namespace) -> int:
    ws = _ws(args)
    if args.tags is not None and len(args.tags):
        tags = ws.feeds.set_tags(args.name, args.tags)
    elif args.clear:
        tags = ws.feeds.set_tags(args.name, [])
    else:
        tags = ws.feeds.get(args.name).tags
    print(" ".join(tags))
    return 0


def _stream_logs(args: argparse.Namespace, progress: ProgressLine | None = None):  # type: ignore[no-untyped-def]
    lock = threading.Lock()

    def on_log(line: str) -> None:
        if args.quiet:
            return
        with lock:
            if progress:
                progress.clear()
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    return on_log


def cmd_feed_test(args: argparse.Namespace) -> int:
    from peak_tui.execution import test_feed

    ws = _ws(args)
    feed = ws.feeds.get(args.name)
    result = test_feed(ws, feed, on_log=_stream_logs(args))
    if args.json:
        d = result.to_dict()
        d.pop("log")
        print_json(d)
    elif result.ok:
        print(f"\n{result.total:,} records; showing {len(result.records)}")
        cols = [c for c, _ in result.columns]
        table(cols, [[r.get(c) for c in cols] for r in result.records])
        print(f"metadata before: {json.dumps(result.metadata_before)}")
        print(f"metadata after:  {json.dumps(result.metadata_after)}")
    else:
        print(f"test failed: {result.error}", file=sys.stderr)
        if result.error_line:
            print(f"  at line {result.error_line} of the script", file=sys.stderr)
    return 0 if result.ok else 1


def _cancel_on_signals(cancel: threading.Event, got: list[int]) -> dict[int, Any]:
    """SIGTERM and the first Ctrl+C cancel the run (recorded as cancelled); a second Ctrl+C aborts."""
    def on_signal(signum: int, frame: Any) -> None:
        if signum == signal.SIGINT and cancel.is_set():
            raise KeyboardInterrupt
        got.append(signum)
        cancel.set()

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}


def cmd_feed_run(args: argparse.Namespace) -> int:
    from peak_tui.execution import run_feed

    ws = _ws(args)
    progress = ProgressLine(sys.stderr) if not args.json else None
    cancel = threading.Event()
    got: list[int] = []  # the signals that cancelled the run
    previous = _cancel_on_signals(cancel, got)
    try:
        run = run_feed(ws, args.name, trigger="cli", on_log=_stream_logs(args, progress), cancel=cancel,
                       on_progress=(lambda p: progress.update(p.records, p.elapsed)) if progress else None)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if progress:
        progress.clear()
    if args.json:
        print_json(ws.redactor().redact_obj(run.to_dict()))
    else:
        print(f"run #{run.id} {run.status}: {run.records:,} records in {duration(run.duration)}"
              + (f" - {run.error}" if run.error else ""))
    if run.status == "succeeded":
        return 0
    return 128 + got[0] if got and run.status == "cancelled" else 1


# runs, logs, sql -----------------------------------------------------------------------------
def cmd_runs(args: argparse.Namespace) -> int:
    ws = _ws(args)
    if args.feed:
        ws.feeds.get(args.feed)
    runs = ws.runs.list(args.feed, limit=args.limit)
    if args.json:  # metadata is stored as the script saved it; shown, known secrets are masked
        print_json(ws.redactor().redact_obj([r.to_dict() for r in runs]))
        return 0
    rows = [[r.id, r.feed, r.trigger, r.status, (r.started_at or "")[:19], duration(r.duration),
             r.records, r.error or ""] for r in runs]
    table(["id", "feed", "trigger", "status", "started", "duration", "records", "error"], rows)
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    sys.stdout.write(_ws(args).runs.logs(args.run_id))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    cols, rows = _ws(args).local.query(args.query)
    if args.json:
        print_json([dict(zip(cols, r, strict=True)) for r in rows])
    else:
        table(cols, [list(r) for r in rows])
    return 0


def cmd_demo_api(args: argparse.Namespace) -> int:
    from peak_tui.demo_api import serve_forever

    serve_forever(port=args.port)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from peak_tui.demo_setup import install_demo, run_demo, start_demo_api

    if args.headless:
        return run_demo(args)
    from peak_tui.tui import make_app

    url, api = start_demo_api()  # its own process, for as long as the app runs
    try:
        app = make_app(args.home, demo_url=url)
        install_demo(app.ws, url)
        app.run()
    finally:
        if api:
            api.stop()
    return 0


def cmd_tui(args: argparse.Namespace) -> int:
    """`peak-tui` with no command: open the app on the workspace."""
    from peak_tui.tui import make_app

    make_app(args.home).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `peak-tui` command."""
    from peak_tui.cli_parser import build_parser

    parser = build_parser(globals())
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        args.func = cmd_tui
    try:
        return int(args.func(args) or 0)
    except PeakError as e:
        print(f"error: {e.title}: {e.message}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
