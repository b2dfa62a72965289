"""SMTP settings for email watchers, stored in the workspace with the password encrypted.

Setting ``smtp`` holds ``{host, port, username, password: "enc:v1:...", from_addr, security}``;
``security`` is ``none`` (plain, e.g. a local relay), ``starttls`` (usually port 587) or ``tls``
(implicit TLS, usually port 465). The password is registered with the workspace redactor.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from peak_tui import validation as v
from peak_tui.errors import PeakError, ValidationError
from peak_tui.workspace import Workspace

SETTING = "smtp"
SECURITY = ("none", "starttls", "tls")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}
_HOST = re.compile(r"[A-Za-z0-9.\-:\[\]_]+")


@dataclass
class SmtpSettings:
    """How email watchers reach their mail server."""

    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    from_addr: str = ""
    security: str = "starttls"
    timeout: float = 10.0

    def validate(self) -> SmtpSettings:
        """Check every field; returns self."""
        if not isinstance(self.host, str) or not _HOST.fullmatch(self.host.strip()):
            raise ValidationError("smtp.host", "must be a host name or IP address", self.host)
        self.host = self.host.strip()
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 1 <= self.port <= 65535:
            raise ValidationError("smtp.port", "must be a port number from 1 to 65535", self.port)
        if self.security not in SECURITY:
            raise ValidationError("smtp.security", f"must be one of {', '.join(SECURITY)}", self.security)
        self.from_addr = v.email("smtp.from", self.from_addr)
        if bool(self.username) != bool(self.password):
            missing = "password" if self.username else "username"
            raise ValidationError(f"smtp.{missing}", "is required when the other login field is set",
                                  None, show_value=False)
        v.positive_number("smtp.timeout", self.timeout, minimum=1)
        return self

    def public_dict(self) -> dict[str, Any]:
        """Safe to print: the password masked."""
        d = asdict(self)
        d["password"] = "****" if self.password else ""
        return d


def load_smtp(ws: Workspace) -> SmtpSettings | None:
    """The workspace's SMTP settings with the password decrypted, or None when not set up."""
    data = ws.store.get_setting(SETTING)
    if not isinstance(data, dict) or not data.get("host"):
        return None
    data = dict(data)
    if data.get("password"):
        data["password"] = ws.box.decrypt(data["password"])
    known = SmtpSettings.__dataclass_fields__
    return SmtpSettings(**{k: val for k, val in data.items() if k in known})


def save_smtp(ws: Workspace, settings: SmtpSettings) -> SmtpSettings:
    """Validate and store; the password is encrypted with the workspace key."""
    settings.validate()
    data = asdict(settings)
    data["password"] = ws.box.encrypt(settings.password) if settings.password else ""
    ws.store.set_setting(SETTING, data)
    return settings


def update_smtp(ws: Workspace, **changes: Any) -> SmtpSettings:
    """Change some fields (None means keep); a first call needs host and from_addr."""
    current = load_smtp(ws)
    base = asdict(current) if current else {"host": ""}
    given = {k: val for k, val in changes.items() if val is not None}
    if "security" in given and "port" not in given and (current is None
                                                        or current.port == DEFAULT_PORTS.get(current.security)):
        given["port"] = DEFAULT_PORTS.get(given["security"], base.get("port", 587))
    if given.get("username") == "":
        given["password"] = ""
    return save_smtp(ws, SmtpSettings(**{**base, **given}))


def clear_smtp(ws: Workspace) -> None:
    """Forget the SMTP settings."""
    with ws.store.write() as c:
        c.execute("DELETE FROM settings WHERE key=?", (SETTING,))


def smtp_secrets(ws: Workspace) -> list[str]:
    """The SMTP password, for the redactor."""
    try:
        s = load_smtp(ws)
    except PeakError:  # an undecryptable password cannot leak either
        return []
    return [s.password] if s and s.password else []


if smtp_secrets not in Workspace._extra_secret_sources:
    Workspace._extra_secret_sources.append(smtp_secrets)
