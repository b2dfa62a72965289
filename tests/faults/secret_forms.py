"""Every spelling of a secret a leak could take, written independently of peak_tui.secrets.Redactor.

An audit that reused the redactor's own list would share its blind spots; this one is derived from
first principles: plain (UTF-8), Python repr, JSON string escapes (ASCII and not), URL quoting
(quote with and without "/" safe, quote_plus), and base64 standard and URL-safe at all three byte
alignments (a secret inside a longer base64 text, e.g. "user:pass"), plus whole Basic credentials.
A secret's random core, when given, is searched too (whole and by halves, and in base64): seeing it
at all is a leak even when the secret was cut or transformed in a way no listed form covers.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from urllib.parse import quote, quote_plus


@dataclass(frozen=True)
class Probe:
    """One byte string to search for, and what it is."""

    name: str
    form: str
    data: bytes


def _base64_inner(data: bytes) -> dict[str, bytes]:
    """The base64 characters that only `data` determines, wherever it starts in a 3-byte group."""
    out = {}
    for lead in range(3):
        enc = base64.b64encode(b"\0" * lead + data)
        first = -(-lead * 8 // 6)  # characters carrying any bit of the lead bytes come first
        last = (lead + len(data)) * 8 // 6  # and characters touching what follows are cut
        core = enc[first:last]
        if len(core) >= 6:
            out[f"base64@{lead}"] = core
            out[f"urlsafe base64@{lead}"] = core.translate(bytes.maketrans(b"+/", b"-_"))
    return out


def forms_of(secret: str) -> dict[str, bytes]:
    """Named spellings of one secret."""
    raw = secret.encode("utf-8")
    forms = {
        "plain": raw,
        "repr": repr(secret)[1:-1].encode(),
        "json": json.dumps(secret)[1:-1].encode(),
        "json (utf-8)": json.dumps(secret, ensure_ascii=False)[1:-1].encode(),
        "url": quote(secret, safe="").encode(),
        "url (/ safe)": quote(secret).encode(),
        "url (plus)": quote_plus(secret).encode(),
        "base64": base64.b64encode(raw),
        "urlsafe base64": base64.urlsafe_b64encode(raw),
    }
    forms.update(_base64_inner(raw))
    return forms


def probes_for(secrets: dict[str, tuple[str, str | None]],
               basic_pairs: list[tuple[str, str]] = ()) -> list[Probe]:  # type: ignore[assignment]
    """Probes for named secrets ({name: (secret, random core or None)}) and Basic credentials."""
    seen: dict[bytes, Probe] = {}

    def add(name: str, form: str, data: bytes) -> None:
        if len(data) >= 6 and data not in seen:
            seen[data] = Probe(name, form, data)

    for name, (secret, core) in secrets.items():
        for form, data in forms_of(secret).items():
            add(name, form, data)
        if core:
            add(name, "random core", core.encode())
            half = len(core) // 2  # half a core is still 48 random bits: never there by chance
            add(name, "first half of the random core", core[:half].encode())
            add(name, "second half of the random core", core[half:].encode())
            for form, data in _base64_inner(core.encode()).items():
                add(name, f"random core, {form}", data)
    for user, password in basic_pairs:
        for encoding in ("utf-8", "latin-1"):
            try:
                pair = f"{user}:{password}".encode(encoding)
            except UnicodeEncodeError:
                continue
            whole = base64.b64encode(pair)
            for data in (whole, whole.rstrip(b"=")):
                add(f"basic credentials of {user}", f"base64 ({encoding})", data)
    return list(seen.values())


def find_leaks(blob: bytes, probes: list[Probe]) -> list[str]:
    """Which probes occur in `blob`, described."""
    return [f"{p.name} ({p.form})" for p in probes if p.data in blob]
