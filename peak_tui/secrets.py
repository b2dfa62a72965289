"""Secrets at rest and in output: the workspace key, encrypted values and log redaction."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import secrets as _random
import threading
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from cryptography.fernet import Fernet, InvalidToken

from peak_tui.errors import PeakError

KEYRING_SERVICE = "peak-tui"
KEYRING_ENV = "PEAK_TUI_KEYRING"
KEY_FILE = "secret.key"
KEYRING_MARKER = "secret.keyring"
ENCRYPTED_PREFIX = "enc:v1:"
MASK = "****"
MIN_SECRET_LENGTH = 4
# Above this many characters, redact() first keeps only the forms present (``str.__contains__``
# is a fast C scan) and runs a regex of just those: ~3x faster on a whole log with no secrets.
_PREFILTER_CHARS = 1 << 16
TOKEN_KEYS = frozenset({
    "access_token", "token", "id_token", "refresh_token", "jwt", "accesstoken",
    "bearer", "session_token", "api_key", "apikey",
})

_TITLE = "Secrets"
_DECRYPT_FAILED = "cannot decrypt secret: wrong key or corrupted value"
_URLSAFE = str.maketrans("+/", "-_")


# --- key management -------------------------------------------------------------------------


def workspace_key_id(workspace_dir: Path) -> str:
    """Stable keyring username for a workspace: the sha256 of its resolved path."""
    return hashlib.sha256(str(Path(workspace_dir).resolve()).encode("utf-8")).hexdigest()


def load_key(workspace_dir: Path) -> bytes:
    """Return the workspace's Fernet key, creating it (keyring first, else a 0600 file) once.

    Order matters so secrets are never orphaned: an existing ``secret.key`` wins; a
    ``secret.keyring`` marker means the key lives in the OS keyring under the username it names
    (so a moved workspace still finds it) and its absence is an error, never a new key.
    """
    workspace_dir = Path(workspace_dir)
    key_path = workspace_dir / KEY_FILE
    marker = workspace_dir / KEYRING_MARKER
    if os.path.lexists(key_path):
        return _read_key_file(key_path)
    if marker.exists():
        return _key_from_marker(marker)
    try:
        workspace_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PeakError(f"cannot create workspace {workspace_dir}: {exc}", title=_TITLE) from exc
    keyring = _keyring_module()
    if keyring is not None:
        username = workspace_key_id(workspace_dir)
        try:
            stored = keyring.get_password(KEYRING_SERVICE, username)
            if stored is None:
                keyring.set_password(KEYRING_SERVICE, username, Fernet.generate_key().decode())
                # Read back: a concurrent process may have stored its key after ours.
                stored = keyring.get_password(KEYRING_SERVICE, username)
        except Exception:  # noqa: BLE001 - any keyring failure means "no usable keyring"
            stored = None
        if stored is not None:
            key = _validated(stored.encode("utf-8"), f"the OS keyring entry for {workspace_dir}")
            _write_marker(marker, username)
            return key
    return _create_key_file(key_path)


def _keyring_disabled() -> bool:
    return os.environ.get(KEYRING_ENV, "").strip().lower() in {"0", "false", "no", "off"}


def _keyring_module() -> Any | None:
    """The ``keyring`` module when it has a real backend; None when absent, disabled or failing."""
    if _keyring_disabled():
        return None
    try:
        import keyring

        backend = keyring.get_keyring()
    except Exception:  # noqa: BLE001 - ImportError, D-Bus errors, broken config: all "none"
        return None
    return keyring if _is_real_backend(backend) else None


def _is_real_backend(backend: Any) -> bool:
    """False for keyring's fail/null backends and for a chainer that has nothing to chain."""
    cls = type(backend)
    where = f"{cls.__module__}.{cls.__name__}"
    if where in {"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"}:
        return False
    if where == "keyring.backends.chainer.ChainerBackend":
        try:
            return bool(backend.backends)
        except Exception:  # noqa: BLE001
            return False
    return True


def _key_from_marker(marker: Path) -> bytes:
    try:
        username = marker.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PeakError(f"cannot read {marker}: {exc.strerror or exc}", title=_TITLE) from exc
    keyring = _keyring_module()
    stored = None
    if keyring is not None:
        try:
            stored = keyring.get_password(KEYRING_SERVICE, username)
        except Exception:  # noqa: BLE001
            stored = None
    if stored is None:
        raise PeakError(
            f"this workspace's secret key is kept in the OS keyring (service {KEYRING_SERVICE!r}, "
            f"user {username!r}, see {marker}) but the keyring is unavailable or has no such "
            "entry; unlock the keyring or unset PEAK_TUI_KEYRING=0",
            title=_TITLE,
        )
    return _validated(stored.encode("utf-8"), f"the OS keyring entry named in {marker}")


def _write_marker(marker: Path, username: str) -> None:
    tmp = marker.with_name(f".{marker.name}.{os.getpid()}.{_random.token_hex(4)}.tmp")
    try:
        tmp.write_text(username + "\n", encoding="utf-8")
        os.replace(tmp, marker)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PeakError(f"cannot write {marker}: {exc.strerror or exc}", title=_TITLE) from exc


def _create_key_file(path: Path) -> bytes:
    """Create ``path`` holding a new key, atomically; if another process won the race, use theirs.

    The key is written and fsynced to a private temp file which is then hard-linked into place:
    ``link`` fails if the name exists, and readers never see a half-written key. Filesystems
    without hard links fall back to O_CREAT|O_EXCL on the final name.
    """
    key = Fernet.generate_key()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}.tmp")
    try:
        _write_new_file(tmp, key)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return _read_key_file(path)
        except OSError:
            try:
                _write_new_file(path, key)
            except FileExistsError:
                return _read_key_file(path)
    except OSError as exc:
        raise PeakError(f"cannot create secret key file {path}: {exc}", title=_TITLE) from exc
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return key


def _write_new_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        if os.name == "posix":
            os.fchmod(fd, 0o600)
        os.write(fd, data + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_key_file(path: Path) -> bytes:
    """Read an existing key file, tightening loose permissions to 0600 first."""
    try:
        if os.name == "posix" and os.stat(path).st_mode & 0o077:
            os.chmod(path, 0o600)
        data = path.read_bytes()
    except OSError as exc:
        raise PeakError(
            f"cannot read secret key file {path}: {exc.strerror or exc}; fix it or restore it "
            "from a backup (a new key would make every stored secret unreadable)",
            title=_TITLE,
        ) from exc
    return _validated(data.strip(), f"secret key file {path}")


def _validated(key: bytes, where: str) -> bytes:
    try:
        ok = len(base64.urlsafe_b64decode(key)) == 32 and len(key) == 44
    except (binascii.Error, ValueError):
        ok = False
    if not ok:
        raise PeakError(
            f"{where} is corrupt (not a 32-byte url-safe base64 key); restore it from a backup "
            "(a new key would make every stored secret unreadable)",
            title=_TITLE,
        )
    return key


# --- encryption -----------------------------------------------------------------------------


def is_encrypted(value: str) -> bool:
    """True when ``value`` is a token made by :meth:`SecretBox.encrypt`."""
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


class SecretBox:
    """Encrypts secrets as ``enc:v1:<Fernet token>`` text.

    Fernet (AES-128-CBC + HMAC-SHA256, random IV, from ``cryptography``) is chosen over raw
    AES-GCM because it is a complete, reviewed recipe: authenticated, no nonce bookkeeping, and
    already a url-safe text token that fits TOML/JSON files. The ``v1`` marker leaves room to
    change the scheme later without guessing what old values are.
    """

    is_encrypted = staticmethod(is_encrypted)

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except (ValueError, TypeError, binascii.Error) as exc:
            raise PeakError("invalid secret key: expected a Fernet key", title=_TITLE) from exc

    def encrypt(self, plaintext: str) -> str:
        """Encrypt a string into a marked text token."""
        return ENCRYPTED_PREFIX + self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token from :meth:`encrypt`; PeakError when the key or the value is wrong."""
        if not is_encrypted(token):
            raise PeakError(
                f"cannot decrypt secret: not an encrypted value (no {ENCRYPTED_PREFIX!r} marker)",
                title=_TITLE,
            )
        try:
            return self._fernet.decrypt(token[len(ENCRYPTED_PREFIX):]).decode("utf-8")
        except (InvalidToken, ValueError, TypeError) as exc:
            raise PeakError(_DECRYPT_FAILED, title=_TITLE) from exc

    def encrypt_json(self, obj: Any) -> str:
        """Encrypt any JSON-serialisable value (e.g. a custom-auth body)."""
        return self.encrypt(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))

    def decrypt_json(self, token: str) -> Any:
        """Decrypt a token from :meth:`encrypt_json` back into the value."""
        text = self.decrypt(token)
        try:
            return json.loads(text)
        except ValueError as exc:
            raise PeakError(_DECRYPT_FAILED, title=_TITLE) from exc


# --- finding secrets ------------------------------------------------------------------------


def secret_values_of(obj: Any) -> list[str]:
    """Every non-empty leaf string or number of a JSON-like value, as strings, first seen first."""
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            if value:
                found[value] = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[str(value)] = None

    walk(obj)
    return list(found)


def find_tokens(obj: Any) -> list[str]:
    """Token-like values in an authorization response: known token keys at any depth, or a bare string."""
    if isinstance(obj, str):
        return [obj.strip()] if obj.strip() else []
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and key.lower().replace("-", "_") in TOKEN_KEYS:
                    found.update(dict.fromkeys(secret_values_of(item)))
                else:
                    walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(obj)
    return list(found)


# --- redaction ------------------------------------------------------------------------------


def _as_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _base64_forms(data: bytes) -> set[str]:
    """Base64 spellings of ``data``, alone and embedded at any alignment, standard and url-safe.

    Inside a longer base64 string the secret starts at byte offset 0, 1 or 2 of a 3-byte group.
    For each offset we encode ``offset`` filler bytes + the secret and keep only the characters
    whose 6 bits come entirely from the secret: skip ceil(8*offset/6) leading characters (they
    carry filler bits) and stop at floor(8*(offset+n)/6) (the next character would carry bits of
    whatever follows). That core appears verbatim wherever the secret is encoded at that offset.
    """
    forms: set[str] = set()
    n = len(data)
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii")
        core = encoded[-(-8 * offset // 6):(8 * (offset + n)) // 6]
        if core:
            forms.add(core)
    whole = base64.b64encode(data).decode("ascii")
    forms.update({whole, whole.rstrip("=")})
    return forms | {form.translate(_URLSAFE) for form in forms}


def _forms_of(secret: str) -> set[str]:
    """Every spelling of a secret the redactor masks: plain, JSON, URL and base64."""
    data = _as_bytes(secret)
    forms = {secret, quote(data, safe=""), quote_plus(data, safe=""), quote(data)}
    try:
        forms.update({json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]})
    except UnicodeEncodeError:  # pragma: no cover - json.dumps accepts lone surrogates
        pass
    forms |= _base64_forms(data)
    forms.discard("")
    return forms


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any word, as a prefix trie so the longest word at a position wins.

    A flat ``a|b|c`` alternation makes ``re`` try every word at every position; the trie shares
    prefixes and at each branch the greedy ``?`` prefers going on over stopping.
    """
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = None

    def emit(node: dict[str, Any]) -> str:
        parts = []
        for char in sorted(k for k in node if k):
            run, child = [char], node[char]
            while len(child) == 1 and "" not in child:  # collapse chains: no nesting per char
                ((nxt, child),) = child.items()
                run.append(nxt)
            parts.append(re.escape("".join(run)) + emit(child))
        if not parts:
            return ""
        if len(parts) == 1 and "" not in node:
            return parts[0]
        return "(?:" + "|".join(parts) + ")" + ("?" if "" in node else "")

    return emit(trie)


@lru_cache(maxsize=64)
def _compile_words(words: frozenset[str]) -> re.Pattern[str]:
    return re.compile(_trie_pattern(words))


class Redactor:
    """Masks every known secret, in all its common encodings, in text, bytes and JSON-like data.

    Secrets shorter than four characters are ignored: masking "ab" or "1" everywhere would
    shred ordinary output while protecting almost nothing. Overlapping matches are merged, so a
    secret that overlaps another cannot leave a fragment visible.
    """

    MASK = MASK
    MIN_LENGTH = MIN_SECRET_LENGTH

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._forms: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False
        self._lock = threading.Lock()
        self.add_many(secrets)

    def add(self, secret: str) -> None:
        """Start masking ``secret`` (ignored when shorter than four characters)."""
        secret = secret if isinstance(secret, str) else str(secret)
        if len(secret) < self.MIN_LENGTH or secret in self._secrets:
            return
        self._add_forms(_forms_of(secret), secret)

    def add_many(self, secrets: Iterable[str]) -> None:
        """Add several secrets."""
        for secret in secrets:
            self.add(secret)

    def add_basic(self, username: str, password: str) -> None:
        """Mask a basic-auth password and its ``Authorization: Basic`` credential."""
        self.add(password)
        pair = f"{username}:{password}"
        if len(pair) < self.MIN_LENGTH:
            return
        forms: set[str] = set()
        # requests encodes str credentials as latin-1, most other clients as utf-8.
        for encoding in ("utf-8", "latin-1"):
            try:
                data = pair.encode(encoding)
            except UnicodeEncodeError:
                continue
            whole = base64.b64encode(data).decode("ascii")
            for form in (whole, whole.rstrip("=")):
                forms.update({form, form.translate(_URLSAFE), quote(form, safe="")})
        self._add_forms(forms, None)

    def _add_forms(self, forms: set[str], secret: str | None) -> None:
        with self._lock:
            if secret is not None:
                self._secrets.add(secret)
            if not forms <= self._forms:
                # Rebind, never mutate: redact() may be iterating the old set in another thread.
                self._forms = self._forms | forms
                self._dirty = True

    def _compiled(self) -> re.Pattern[str] | None:
        if self._dirty:
            with self._lock:
                if self._dirty:
                    words = frozenset(self._forms)
                    self._pattern = _compile_words(words) if words else None
                    self._dirty = False
        return self._pattern

    def __bool__(self) -> bool:
        """True when there is at least one secret to mask."""
        return bool(self._forms)

    def redact(self, text: str) -> str:
        """Replace every occurrence of every secret form in ``text`` with ``****``."""
        pattern = self._compiled()
        if pattern is None or not text:
            return text
        if len(text) >= _PREFILTER_CHARS:
            present = frozenset(form for form in self._forms if form in text)
            if not present:
                return text
            pattern = _compile_words(present)
        match = pattern.search(text)
        if match is None:
            return text
        pieces: list[str] = []
        done = 0
        start, end = match.span()
        # Search again from start + 1 (not end) to catch a secret that begins inside this one.
        while (match := pattern.search(text, match.start() + 1)) is not None:
            if match.start() <= end:
                end = max(end, match.end())
            else:
                pieces += (text[done:start], MASK)
                done = end
                start, end = match.span()
        pieces += (text[done:start], MASK, text[end:])
        return "".join(pieces)

    def redact_bytes(self, data: bytes) -> bytes:
        """Redact binary-ish output; bytes that are not UTF-8 pass through unchanged."""
        if not self:
            return data
        text = data.decode("utf-8", "surrogateescape")
        return self.redact(text).encode("utf-8", "surrogateescape")

    def redact_obj(self, obj: Any) -> Any:
        """Deep copy of a JSON-like value with every string (keys too) redacted.

        A number whose digits contain a secret becomes its redacted string. Two keys that
        redact to the same text collapse into one (the later wins).
        """
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_obj(item) for item in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact_obj(item) for item in obj)
        if isinstance(obj, (bytes, bytearray)):
            return self.redact_bytes(bytes(obj))
        if isinstance(obj, (int, float)) and not isinstance(obj, bool):
            text = str(obj)
            masked = self.redact(text)
            return obj if masked == text else masked
        return obj
