"""The custom-auth exchange: request the authorization URL before the script starts, find the token."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from peak_tui.errors import AuthError
from peak_tui.models import Connection
from peak_tui.secrets import Redactor, find_tokens


def script_connection(conn: Connection, redactor: Redactor, log: Callable[[str], None],
                      timeout: float = 30) -> dict[str, Any]:
    """The `connection` handed to a script, doing the custom-auth exchange when needed."""
    spec: dict[str, Any] = {"name": conn.name, "auth_type": conn.auth_type, "headers": {}}
    if conn.auth_type == "basic":
        spec.update(username=conn.username, password=conn.password)
    elif conn.auth_type == "custom":
        spec.update(exchange(conn, redactor, log, timeout))
    return spec


def exchange(conn: Connection, redactor: Redactor, log: Callable[[str], None],
             timeout: float = 30) -> dict[str, Any]:
    """POST the saved headers and JSON body to the authorization URL; returns response, token, headers."""
    started = time.monotonic()
    try:
        resp = requests.post(conn.auth_url, headers=conn.headers or {}, json=conn.body, timeout=timeout)
    except requests.RequestException as e:
        msg = redactor.redact(f"authorization request to {conn.auth_url} failed: {e}")
        log(f"[peak] auth: {msg}")
        raise AuthError(msg) from None
    ms = (time.monotonic() - started) * 1000
    try:
        parsed: Any = resp.json()
    except ValueError:
        parsed = resp.text
    tokens = find_tokens(parsed)
    redactor.add_many(tokens)
    log(redactor.redact(
        f"[peak] auth: POST {conn.auth_url} -> HTTP {resp.status_code} in {ms:.0f} ms"
        + (", token received" if tokens else ", no token found in the response")
    ))
    if not resp.ok:
        snippet = redactor.redact(resp.text[:300].strip())
        raise AuthError(
            f"authorization request to {conn.auth_url} returned HTTP {resp.status_code}: {snippet}"
        )
    token = tokens[0] if tokens else None
    headers: dict[str, str] = {}
    if token:
        token_type = "Bearer"
        if isinstance(parsed, dict) and isinstance(parsed.get("token_type"), str):
            token_type = parsed["token_type"].strip() or "Bearer"
            if token_type.lower() == "bearer":
                token_type = "Bearer"
        headers["Authorization"] = f"{token_type} {token}"
    return {"auth_url": conn.auth_url, "auth_response": parsed, "token": token, "headers": headers}
