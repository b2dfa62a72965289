"""CLI: `serve`, `daemon status|start|stop|config`, `schedule check|timezone`, `feed schedule`."""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peak_tui.output import print_json


def _ws(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from peak_tui.workspace import Workspace

    return Workspace.open(args.home)


def feed_actions(sub: Any) -> Any:
    """The `feed` group's subparsers, so extensions can add `feed <action>` commands."""
    feed = sub.choices["feed"]
    return next(a for a in feed._actions if isinstance(a, argparse._SubParsersAction))


def _count(n: int) -> int:
    from peak_tui.errors import ValidationError

    if not 1 <= n <= 100:
        raise ValidationError("--count", "must be from 1 to 100", n)
    return n


def _local(text: str | None, tz: str) -> str:
    if not text:
        return ""
    t = datetime.fromisoformat(text).astimezone(ZoneInfo(tz))
    return f"{t:%a %Y-%m-%d %H:%M:%S %Z}"


# ------------------------------------------------------------------------------------- serve
def cmd_serve(args: argparse.Namespace) -> int:
    from peak_tui.serve import serve

    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    return serve(args.home, host=args.host, port=args.port, grace=args.grace, workers=args.workers)


def cmd_daemon_status(args: argparse.Namespace) -> int:
    from peak_tui.daemon import daemon_status

    status = daemon_status(_ws(args))
    if args.json:
        print_json({"running": status is not None, **(status.to_dict() if status else {})})
    elif status is None:
        print("no daemon is running for this workspace (start one: peak-tui daemon start)")
    else:
        print(f"daemon running: pid {status.pid}, webhooks at {status.url}, since {status.started_at}, "
              f"{status.workers} workers, grace {status.grace:g} s")
    return 0 if status is not None else 3


def cmd_daemon_start(args: argparse.Namespace) -> int:
    from peak_tui.daemon import daemon_status, log_path, spawn_daemon

    ws = _ws(args)
    pid = spawn_daemon(ws, host=args.host, port=args.port)
    status = daemon_status(ws)
    print(f"daemon started: pid {pid}, webhooks at {status.url if status else '?'}; log {log_path(ws)}")
    return 0


def cmd_daemon_stop(args: argparse.Namespace) -> int:
    from peak_tui.daemon import stop_daemon

    status = stop_daemon(_ws(args), timeout=args.timeout)
    print("no daemon was running" if status is None else f"daemon (pid {status.pid}) stopped")
    return 0


def cmd_daemon_config(args: argparse.Namespace) -> int:
    from peak_tui.daemon import config, set_config

    ws = _ws(args)
    changes = {k: getattr(args, k) for k in ("host", "port", "grace", "workers", "public_url")
               if getattr(args, k) is not None}
    cfg = set_config(ws, **changes) if changes else config(ws)
    if args.json:
        print_json(cfg)
    else:
        for k, v in cfg.items():
            print(f"{k:>10}: {v}")
        if changes:
            print("(a running daemon uses the new values after a restart)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------- schedule
def cmd_schedule_check(args: argparse.Namespace) -> int:
    from peak_tui import schedule
    from peak_tui.schedule_state import workspace_timezone

    tz = schedule.validate_timezone(args.tz) if args.tz else workspace_timezone(_ws(args))
    cron = schedule.validate(args.expr)
    times = schedule.next_times(cron, datetime.now(UTC), _count(args.count), tz)
    if args.json:
        print_json({"expression": args.expr, "quartz": cron.quartz, "kind": cron.kind,
                    "description": schedule.describe(cron), "timezone": tz,
                    "next": [t.isoformat() for t in times]})
        return 0
    print(f"quartz:    {cron.quartz}" + ("   (from the 5-field Unix form)" if cron.kind == "unix" else ""))
    print(f"reads:     {schedule.describe(cron)}")
    print(f"time zone: {tz}")
    print(f"next {len(times)} runs:" if times else "never runs again (its years are past)")
    for t in times:
        print(f"  {t:%a %Y-%m-%d %H:%M:%S %Z}   ({t.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")
    return 0


def cmd_schedule_timezone(args: argparse.Namespace) -> int:
    from peak_tui.schedule_state import set_workspace_timezone, workspace_timezone

    ws = _ws(args)
    if args.name:
        print(f"workspace time zone set to {set_workspace_timezone(ws, args.name)}; schedules and "
              f"once-at times are read in it (a trigger's own 'timezone' wins)")
    else:
        print(workspace_timezone(ws))
    return 0


def cmd_feed_schedule(args: argparse.Namespace) -> int:
    from peak_tui.daemon import daemon_status
    from peak_tui.schedule_state import feed_schedule

    ws = _ws(args)
    info = feed_schedule(ws, args.name, n=_count(args.count))
    running = daemon_status(ws) is not None
    if args.json:
        print_json({**info, "daemon_running": running})
        return 0
    tz = info["timezone"] or "UTC"
    print(f"feed {args.name}: {info['type']} trigger" + ("  (PAUSED)" if info["paused"] else ""))
    if info["cron"]:
        print(f"  cron:      {info['cron']}")
    print(f"  reads:     {info['description']}")
    if info["timezone"]:
        print(f"  time zone: {tz}")
    if info["overdue_since"]:
        print(f"  overdue since {_local(info['overdue_since'], tz)}: runs once as a catch-up when "
              f"the daemon next looks")
    if info["last_slot"]:
        print(f"  last slot: {_local(info['last_slot'], tz)}"
              + (f" (run #{info['last_run_id']})" if info["last_run_id"] else ""))
    if info["next"]:
        print(f"  next {len(info['next'])}:")
        for t in info["next"]:
            print(f"    {_local(t, tz)}")
    elif info["type"] in ("schedule", "once") and not info["paused"] and not info["overdue_since"]:
        print("  no future runs")
    if info["type"] in ("schedule", "once", "webhook") and not running:
        print("  note: no daemon is running, so nothing fires; start one with: peak-tui daemon start")
    return 0


# ---------------------------------------------------------------------------------- register
def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
    p = sub.add_parser("serve", help="run feeds by schedule and serve webhooks (long-running)")
    p.add_argument("--host", help="address to listen on (default: setting daemon.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default: setting daemon.port, 8788)")
    p.add_argument("--grace", type=float, help="seconds running feeds get to finish on stop (30)")
    p.add_argument("--workers", type=int, help="feeds that may run at once (4)")
    p.set_defaults(func=cmd_serve)

    daemon = sub.add_parser("daemon", help="start, stop or inspect the background daemon")
    acts = daemon.add_subparsers(dest="command", metavar="ACTION")
    acts.required = True
    p = acts.add_parser("status", help="is a daemon serving this workspace? (exit 3 when not)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_daemon_status)
    p = acts.add_parser("start", help="start `serve` in the background (log: HOME/logs/daemon.log)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_daemon_start)
    p = acts.add_parser("stop", help="stop the daemon, letting running feeds finish (grace period)")
    p.add_argument("--timeout", type=float, help="seconds to wait (default: grace + 90)")
    p.set_defaults(func=cmd_daemon_stop)
    p = acts.add_parser("config", help="show or change the daemon settings")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--grace", type=float)
    p.add_argument("--workers", type=int)
    p.add_argument("--public-url", help="base URL webhook callers use (e.g. behind a proxy); '' clears")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_daemon_config)

    sched = sub.add_parser("schedule", help="check cron expressions; the workspace time zone")
    acts = sched.add_subparsers(dest="command", metavar="ACTION")
    acts.required = True
    p = acts.add_parser("check", help="read a cron expression aloud and list its next runs")
    p.add_argument("expr", help="Quartz (6/7 fields, e.g. '0 15 10 ? * 6L') or Unix (5 fields)")
    p.add_argument("--tz", help="time zone (default: the workspace's)")
    p.add_argument("-n", "--count", type=int, default=5, help="how many next runs (5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_schedule_check)
    p = acts.add_parser("timezone", help="show or set the workspace time zone (IANA name)")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_schedule_timezone)

    p = feed_actions(sub).add_parser("schedule", help="a feed's trigger in plain English and next runs")
    p.add_argument("name")
    p.add_argument("-n", "--count", type=int, default=5)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_feed_schedule)
