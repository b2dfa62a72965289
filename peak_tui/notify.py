"""Notification channels for watchers: email over SMTP and JSON webhooks, with retries and backoff.

A webhook watcher's ``payload`` is a JSON template whose ``{field}`` placeholders are filled with
run fields. Inside a JSON string a value is inserted JSON-escaped (``"{feed} {status}"``); outside
one it is inserted as a JSON value (``{"records": {records}}`` gives a number, or null). The
result is checked to be valid JSON before it is sent.
"""
from __future__ import annotations

import json
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import requests

from peak_tui.errors import ValidationError
from peak_tui.notify_settings import SmtpSettings

# Waits before each retry: a failed delivery is tried 1 + len(RETRY_DELAYS) times in all.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
HTTP_TIMEOUT = 10.0
FIELDS = ("feed", "run_id", "status", "records", "duration", "error", "event", "trigger",
          "started_at", "ended_at", "failed_rows", "runtime_minutes", "catch_up")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(FIELDS) + r")\}")


class DeliveryError(Exception):
    """A notification could not be delivered; ``retry`` says whether trying again may help."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


def render_payload(template: str | None, fields: dict[str, Any]) -> bytes:
    """Fill a JSON template with run fields (see the module docstring); the default sends them all."""
    if template is None or not template.strip():
        return json.dumps({k: fields.get(k) for k in FIELDS} | {"text": summary(fields)}).encode()
    out: list[str] = []
    in_string, i = False, 0
    while i < len(template):
        ch = template[i]
        if in_string and ch == "\\":
            out.append(template[i:i + 2])
            i += 2
            continue
        m = _PLACEHOLDER.match(template, i)
        if m:
            val = fields.get(m[1])
            if in_string:
                out.append(json.dumps("" if val is None else str(val), ensure_ascii=False)[1:-1])
            else:
                out.append(json.dumps(val, ensure_ascii=False))
            i = m.end()
            continue
        if ch == '"':
            in_string = not in_string
        out.append(ch)
        i += 1
    text = "".join(out)
    try:
        json.loads(text)
    except (ValueError, RecursionError) as e:
        raise DeliveryError(f"the payload template is not valid JSON once filled in: {e}",
                            retry=False) from None
    return text.encode()


_SAMPLE = {"feed": "orders", "run_id": 1, "status": "failed", "records": 0, "duration": 1.5,
           "error": 'a "quoted"\nerror', "event": "failure", "trigger": "schedule",
           "started_at": "2026-01-01T00:00:00+00:00", "ended_at": None, "failed_rows": 0,
           "runtime_minutes": 30, "catch_up": False}


def validate_template(template: str | None, field: str = "payload") -> None:
    """Refuse a template with an unknown ``{placeholder}`` or that is not JSON once filled in."""
    if template is None or not template.strip():
        return
    unknown = sorted(set(re.findall(r"\{([A-Za-z_]+)\}", template)) - set(FIELDS))
    if unknown:
        raise ValidationError(field, f"unknown placeholder {{{unknown[0]}}}; use one of "
                              + ", ".join(f"{{{f}}}" for f in FIELDS), unknown[0])
    try:
        render_payload(template, _SAMPLE)
    except DeliveryError as e:
        why = str(e).removeprefix("the payload template is ")
        raise ValidationError(field, f"must be a JSON template ({{feed}}-style placeholders "
                              f"allowed); {why}", None, show_value=False) from None


def summary(fields: dict[str, Any]) -> str:
    """One line saying what happened, e.g. 'orders: run #12 succeeded, 250 records in 3.1 s'."""
    feed, run_id, status = fields.get("feed"), fields.get("run_id"), fields.get("status")
    if fields.get("event") == "runtime_exceeded":
        return (f"{feed}: run #{run_id} is still running after {fields.get('runtime_minutes')} "
                f"min")
    text = f"{feed}: run #{run_id} {status}"
    if status == "succeeded":
        text += f", {fields.get('records')} records"
    if fields.get("duration") is not None:
        text += f" in {fields['duration']} s"
    if fields.get("error"):
        text += f" - {fields['error']}"
    return text


def safe_url(url: str) -> str:
    """A webhook URL without its path and query (which often hold a secret), for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def post_webhook(url: str, body: bytes) -> str:
    """POST the JSON body; returns 'HTTP nnn' on 2xx, raises DeliveryError otherwise."""
    try:
        r = requests.post(url, data=body, timeout=HTTP_TIMEOUT,
                          headers={"Content-Type": "application/json", "User-Agent": "peak-tui"})
    except requests.Timeout:
        raise DeliveryError(f"no answer within {HTTP_TIMEOUT:.0f} s") from None
    except requests.ConnectionError:
        raise DeliveryError(f"could not connect to {safe_url(url)}") from None
    except requests.RequestException as e:
        raise DeliveryError(type(e).__name__, retry=False) from None
    if not 200 <= r.status_code < 300:
        raise DeliveryError(f"HTTP {r.status_code}", retry=r.status_code >= 500 or r.status_code == 429)
    return f"HTTP {r.status_code}"


def send_email(settings: SmtpSettings, to: list[str], subject: str, body: str) -> str:
    """Send one plain-text email; returns a short confirmation, raises DeliveryError."""
    msg = EmailMessage()
    msg["From"] = settings.from_addr
    msg["To"] = ", ".join(to)
    msg["Subject"] = subject
    msg.set_content(body)
    ctx = ssl.create_default_context()
    try:
        if settings.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port,
                                                  timeout=settings.timeout, context=ctx)
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ctx)
            if settings.username:
                smtp.login(settings.username, settings.password)
            smtp.send_message(msg)
    except smtplib.SMTPAuthenticationError as e:
        raise DeliveryError(f"the SMTP server refused the login ({e.smtp_code})", retry=False) from None
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryError(f"the SMTP server refused the recipients {', '.join(e.recipients)}",
                            retry=False) from None
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryError(f"{type(e).__name__}: {e}") from None
    return f"sent to {', '.join(to)}"


def with_retries(send: Callable[[], str], on_attempt: Callable[[int, str, float | None], None],
                 delays: tuple[float, ...] | None = None) -> tuple[bool, str]:
    """Call ``send`` until it succeeds, waiting ``delays`` between tries; (ok, last message)."""
    delays = RETRY_DELAYS if delays is None else delays
    attempt = 0
    while True:
        attempt += 1
        try:
            return True, send()
        except DeliveryError as e:
            wait = delays[attempt - 1] if e.retry and attempt <= len(delays) else None
            on_attempt(attempt, str(e), wait)
            if wait is None:
                return False, f"{e} (after {attempt} attempt{'s' if attempt > 1 else ''})"
            time.sleep(wait)
