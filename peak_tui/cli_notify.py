"""CLI: `smtp set|show|test|clear` for email watchers, and `feed webhook` for a feed's trigger URL."""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from peak_tui.cli_daemon import feed_actions
from peak_tui.errors import ValidationError
from peak_tui.output import print_json


def _ws(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from peak_tui.workspace import Workspace

    return Workspace.open(args.home)


def _password(args: argparse.Namespace) -> str | None:
    if args.password_env:
        if args.password_env not in os.environ:
            raise ValidationError("--password-env", "names an unset environment variable",
                                  args.password_env)
        return os.environ[args.password_env]
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return None


def cmd_smtp_set(args: argparse.Namespace) -> int:
    from peak_tui.notify_settings import update_smtp

    s = update_smtp(_ws(args), host=args.host, port=args.port, username=args.username,
                    password=_password(args), from_addr=args.from_addr, security=args.security,
                    timeout=args.timeout)
    print(f"SMTP settings saved: {s.host}:{s.port} ({s.security})"
          + (f", login {s.username}" if s.username else ", no login") + f", from {s.from_addr}")
    return 0


def cmd_smtp_show(args: argparse.Namespace) -> int:
    from peak_tui.notify_settings import load_smtp

    s = load_smtp(_ws(args))
    if args.json:
        print_json(s.public_dict() if s else None)
    elif s is None:
        print("SMTP is not set up (peak-tui smtp set --host H --from ADDR ...)")
    else:
        for k, v in s.public_dict().items():
            print(f"{k:>10}: {v}")
    return 0 if s else 3


def cmd_smtp_test(args: argparse.Namespace) -> int:
    from peak_tui import notify
    from peak_tui.errors import PeakError
    from peak_tui.notify_settings import load_smtp
    from peak_tui.validation import email

    ws = _ws(args)
    to = [email("--to", x) for x in args.to]
    s = load_smtp(ws)
    if s is None:
        raise PeakError("SMTP is not set up: run `peak-tui smtp set` first", title="SMTP")
    try:
        result = notify.send_email(s, to, "[peak-tui] test message",
                                   f"This is a test from peak-tui (workspace {ws.home}). "
                                   f"Email watchers will arrive like this.")
    except notify.DeliveryError as e:
        raise PeakError(f"{s.host}:{s.port} ({s.security}): {ws.redactor().redact(str(e))}",
                        title="SMTP test failed") from None
    print(f"test message {result} via {s.host}:{s.port}")
    return 0


def cmd_smtp_clear(args: argparse.Namespace) -> int:
    from peak_tui.notify_settings import clear_smtp

    clear_smtp(_ws(args))
    print("SMTP settings removed")
    return 0


def cmd_feed_webhook(args: argparse.Namespace) -> int:
    from peak_tui import webhook_keys as keys
    from peak_tui.daemon import daemon_status

    ws = _ws(args)
    if args.regenerate:
        keys.regenerate_token(ws, args.name)
    secret = keys.new_hmac_secret(ws, args.name) if args.hmac_secret else None
    url = keys.webhook_url(ws, args.name)
    trigger = ws.feeds.get(args.name).trigger
    hmac_on = bool(trigger.get("hmac"))
    has_secret = bool(ws.feeds.state(args.name)["webhook_secret"])
    running = daemon_status(ws) is not None
    if args.json:
        print_json({"feed": args.name, "url": url, "hmac": hmac_on, "hmac_secret_set": has_secret,
                    "daemon_running": running, **({"hmac_secret": secret} if secret else {})})
        return 0
    print(url)
    if args.regenerate:
        print("a new token was made: the old URL no longer works", file=sys.stderr)
    if secret:
        print(f"HMAC secret (shown only now; store it in your CI's secrets): {secret}",
              file=sys.stderr)
        if not hmac_on:
            print("note: this feed's trigger has hmac = false, so signatures are not checked yet",
                  file=sys.stderr)
    elif hmac_on and not has_secret:
        print(f"note: hmac = true but no secret exists yet: peak-tui feed webhook {args.name} "
              f"--hmac-secret", file=sys.stderr)
    example = json.dumps({"key": "value"})
    sig = ' -H "X-Peak-Signature: sha256=$(...)"' if hmac_on else ""
    print(f"call it: curl -X POST{sig} -H 'Content-Type: application/json' -d '{example}' URL\n"
          f"  -> 202 with the run id and a status URL; add ?wait=SECONDS to wait for the result",
          file=sys.stderr)
    if not running:
        print("note: no daemon is running, so calls are refused; start one: peak-tui daemon start",
              file=sys.stderr)
    return 0


def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
    smtp = sub.add_parser("smtp", help="SMTP settings for email watchers")
    acts = smtp.add_subparsers(dest="command", metavar="ACTION")
    acts.required = True
    p = acts.add_parser("set", help="create or change the SMTP settings (only given fields change)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--username", help="login name ('' for no login)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.add_argument("--password-env", metavar="VAR", help="read the password from this env variable")
    p.add_argument("--from", dest="from_addr", metavar="ADDR", help="the sender address")
    p.add_argument("--security", choices=("none", "starttls", "tls"))
    p.add_argument("--timeout", type=float, help="seconds per SMTP operation (10)")
    p.set_defaults(func=cmd_smtp_set)
    p = acts.add_parser("show", help="show the SMTP settings (password masked)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_smtp_show)
    p = acts.add_parser("test", help="send a test message")
    p.add_argument("--to", action="append", required=True, metavar="ADDR")
    p.set_defaults(func=cmd_smtp_test)
    p = acts.add_parser("clear", help="remove the SMTP settings")
    p.set_defaults(func=cmd_smtp_clear)

    p = feed_actions(sub).add_parser("webhook", help="show a webhook feed's URL; rotate its token or "
                                     "HMAC secret")
    p.add_argument("name")
    p.add_argument("--regenerate", action="store_true", help="new token: the old URL stops working")
    p.add_argument("--hmac-secret", action="store_true",
                   help="create or replace the HMAC secret and show it once")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_feed_webhook)
