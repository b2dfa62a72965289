"""Tests for peak_tui.secrets: the workspace key, SecretBox encryption and the Redactor."""
from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peak_tui import secrets as S
from peak_tui.errors import PeakError
from peak_tui.secrets import (
    MASK,
    Redactor,
    SecretBox,
    find_tokens,
    is_encrypted,
    load_key,
    secret_values_of,
    workspace_key_id,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- key file -------------------------------------------------------------------------------


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    key_file = tmp_path / "secret.key"
    assert _mode(key_file) == 0o600
    assert key_file.read_bytes().strip() == key
    assert load_key(tmp_path) == key
    assert SecretBox(key).decrypt(SecretBox(key).encrypt("x")) == "x"
    assert not list(tmp_path.glob(".*.tmp")), "temp file left behind"


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    key = load_key(tmp_path)
    key_file = tmp_path / "secret.key"
    key_file.chmod(0o644)
    assert load_key(tmp_path) == key
    assert _mode(key_file) == 0o600


@pytest.mark.parametrize("content", [b"", b"not a key\n", b"A" * 43 + b"\n"])
def test_corrupt_key_file_raises_and_is_kept(tmp_path: Path, content: bytes) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_bytes(content)
    with pytest.raises(PeakError, match="corrupt"):
        load_key(tmp_path)
    assert key_file.read_bytes() == content


def test_unreadable_key_file_raises(tmp_path: Path) -> None:
    (tmp_path / "secret.key").mkdir()  # unreadable as a file, even for root
    with pytest.raises(PeakError, match="cannot read secret key file"):
        load_key(tmp_path)


def test_losing_the_race_returns_the_winners_key(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    winner = load_key(tmp_path)
    assert S._create_key_file(key_file) == winner
    assert key_file.read_bytes().strip() == winner


_CHILD = """
import sys, time
from pathlib import Path
from peak_tui.secrets import load_key
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(load_key(Path(sys.argv[1])).decode())
"""


def test_concurrent_processes_agree_on_one_key(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    start_at = str(time.time() + 2.0)  # every child calls load_key at about the same moment
    env = {**os.environ, "PEAK_TUI_KEYRING": "0"}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(workspace), start_at],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(8)
    ]
    results = [child.communicate(timeout=60) for child in children]
    assert all(child.returncode == 0 for child in children), [err for _, err in results]
    keys = {out.strip() for out, _ in results}
    assert len(keys) == 1
    assert (workspace / "secret.key").read_text().strip() in keys
    assert not list(workspace.glob(".*.tmp"))


# --- keyring --------------------------------------------------------------------------------


def _fake_keyring(module: str = "keyring.backends.SecretService", name: str = "Keyring",
                  **attrs: Any) -> tuple[types.ModuleType, dict[tuple[str, str], str]]:
    store: dict[tuple[str, str], str] = {}
    backend = type(name, (), {"__module__": module, **attrs})()
    fake = types.ModuleType("keyring")
    fake.get_keyring = lambda: backend  # type: ignore[attr-defined]
    fake.get_password = lambda service, user: store.get((service, user))  # type: ignore[attr-defined]
    fake.set_password = lambda service, user, pw: store.__setitem__((service, user), pw)  # type: ignore[attr-defined]
    return fake, store


def test_real_keyring_holds_the_key_and_survives_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, store = _fake_keyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("PEAK_TUI_KEYRING")
    workspace = tmp_path / "ws"
    key = load_key(workspace)
    assert store == {("peak-tui", workspace_key_id(workspace)): key.decode()}
    assert not (workspace / "secret.key").exists()
    assert load_key(workspace) == key
    moved = workspace.rename(tmp_path / "moved")
    assert load_key(moved) == key  # the marker names the keyring entry, not the path


@pytest.mark.parametrize(
    "module,name,attrs",
    [
        ("keyring.backends.fail", "Keyring", {}),
        ("keyring.backends.null", "Keyring", {}),
        ("keyring.backends.chainer", "ChainerBackend", {"backends": []}),
    ],
)
def test_placeholder_keyring_backends_fall_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, name: str, attrs: dict
) -> None:
    fake, store = _fake_keyring(module, name, **attrs)
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("PEAK_TUI_KEYRING")
    key = load_key(tmp_path)
    assert store == {}
    assert (tmp_path / "secret.key").read_bytes().strip() == key


def test_failing_keyring_falls_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = _fake_keyring()

    def broken(*_: Any) -> None:
        raise RuntimeError("dbus says no")

    fake.get_password = broken  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("PEAK_TUI_KEYRING")
    assert (tmp_path / "secret.key").exists() is False
    key = load_key(tmp_path)
    assert (tmp_path / "secret.key").read_bytes().strip() == key


def test_env_override_skips_the_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake, store = _fake_keyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    load_key(tmp_path)
    assert store == {}
    assert (tmp_path / "secret.key").exists()


def test_existing_key_file_wins_over_a_new_keyring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = load_key(tmp_path)
    fake, store = _fake_keyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("PEAK_TUI_KEYRING")
    assert load_key(tmp_path) == key
    assert store == {}


def test_keyring_workspace_without_keyring_raises_instead_of_making_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, _ = _fake_keyring()
    monkeypatch.setitem(sys.modules, "keyring", fake)
    monkeypatch.delenv("PEAK_TUI_KEYRING")
    load_key(tmp_path)
    monkeypatch.setenv("PEAK_TUI_KEYRING", "0")
    with pytest.raises(PeakError, match="OS keyring"):
        load_key(tmp_path)
    assert not (tmp_path / "secret.key").exists()


# --- SecretBox ------------------------------------------------------------------------------


def test_encrypt_decrypt_round_trip(tmp_path: Path) -> None:
    box = SecretBox(load_key(tmp_path))
    plain = "pässwörd ☃ \"quoted\" \\ end"
    token = box.encrypt(plain)
    assert token.startswith("enc:v1:")
    assert is_encrypted(token) and box.is_encrypted(token)
    assert not is_encrypted(plain)
    assert plain not in token
    assert box.encrypt(plain) != token  # random IV per encryption
    assert box.decrypt(token) == plain


def test_json_round_trip(tmp_path: Path) -> None:
    box = SecretBox(load_key(tmp_path))
    body = {"user": "svc", "pin": 1234, "nested": [True, None, "ü"]}
    token = box.encrypt_json(body)
    assert is_encrypted(token)
    assert box.decrypt_json(token) == body


def test_wrong_key_gives_a_clear_error(tmp_path: Path) -> None:
    token = SecretBox(load_key(tmp_path / "a")).encrypt("hunter22")
    other = SecretBox(load_key(tmp_path / "b"))
    with pytest.raises(PeakError) as info:
        other.decrypt(token)
    assert str(info.value) == "cannot decrypt secret: wrong key or corrupted value"


def test_corrupted_or_unmarked_values_are_rejected(tmp_path: Path) -> None:
    box = SecretBox(load_key(tmp_path))
    token = box.encrypt("hunter22")
    with pytest.raises(PeakError, match="wrong key or corrupted value"):
        box.decrypt(token[:-6] + "AAAAAA")
    with pytest.raises(PeakError, match="not an encrypted value"):
        box.decrypt("hunter22")
    with pytest.raises(PeakError, match="invalid secret key"):
        SecretBox(b"short")


# --- finding secrets ------------------------------------------------------------------------


def test_secret_values_of_collects_leaf_strings_and_numbers() -> None:
    body = {"user": "svc", "auth": {"pin": 1234, "ratio": 0.5, "flag": True, "none": None},
            "list": ["a1", {"deep": "svc"}, ""]}
    assert secret_values_of(body) == ["svc", "1234", "0.5", "a1"]


def test_find_tokens_looks_for_token_keys_at_any_depth() -> None:
    response = {
        "data": {"AccessToken": "tok-1", "expires_in": 3600},
        "refresh_token": "tok-2",
        "items": [{"JWT": "tok-3"}, {"name": "not a token"}],
        "api-key": 99887766,
    }
    assert sorted(find_tokens(response)) == ["99887766", "tok-1", "tok-2", "tok-3"]
    assert find_tokens("  raw-token-value\n") == ["raw-token-value"]
    assert find_tokens({"user": "x"}) == []


# --- Redactor -------------------------------------------------------------------------------


def test_plain_secret_is_masked_and_short_ones_ignored() -> None:
    redactor = Redactor(["hunter22", "abc", ""])
    assert redactor
    assert not Redactor(["abc", ""])
    assert redactor.redact("login hunter22 ok abc") == f"login {MASK} ok abc"
    assert redactor.redact("nothing here") == "nothing here"


def test_secrets_added_later_are_masked() -> None:
    redactor = Redactor()
    assert redactor.redact("key=zebra-42") == "key=zebra-42"
    redactor.add("zebra-42")
    assert redactor.redact("key=zebra-42") == f"key={MASK}"


def _decodes_to_secret(text: str, secret: bytes) -> bool:
    """True if any base64 run of ``text``, at any alignment, still decodes to contain ``secret``."""
    for run in re.findall(r"[A-Za-z0-9+/_-]+", text):  # '=' only ends a run (padding)
        run = run.translate(str.maketrans("-_", "+/"))
        for skip in range(4):
            chars = run[skip:]
            chars = chars[: len(chars) - (len(chars) % 4 == 1)]
            decoded = base64.b64decode(chars + "=" * (-len(chars) % 4))
            if secret in decoded:
                return True
    return False


@pytest.mark.parametrize("extra", ["", "x", "xy"])  # shifts the secret through offsets 0, 1, 2
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_embedded_at_every_offset_is_masked(extra: str, encode: Any) -> None:
    secret = "s3cr3t~?>value"
    blob = encode(f"Authorization data: {extra}{secret} trailing".encode()).decode()
    assert _decodes_to_secret(blob, secret.encode())  # the oracle sees the leak unredacted
    redacted = Redactor([secret]).redact(f"payload={blob};")
    assert MASK in redacted
    assert not _decodes_to_secret(redacted, secret.encode())
    assert redacted.startswith("payload=" + blob[:24])  # bytes before the secret stay visible


def test_basic_auth_header_is_masked() -> None:
    redactor = Redactor()
    redactor.add_basic("alice", "correct horse")
    header = "Basic " + base64.b64encode(b"alice:correct horse").decode()
    assert redactor.redact(f"Authorization: {header}") == f"Authorization: Basic {MASK}"
    short = Redactor()
    short.add_basic("bob", "pw")
    token = base64.b64encode(b"bob:pw").decode()
    assert short.redact(f"Authorization: Basic {token}") == f"Authorization: Basic {MASK}"
    assert short.redact("pw stays") == "pw stays"


def test_url_encoded_forms_are_masked() -> None:
    secret = "p@ss w/rd&=?"
    redactor = Redactor([secret])
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)):
        assert encoded != secret
        url = f"https://api.example.com/login?user=a&password={encoded}&x=1"
        assert redactor.redact(url) == f"https://api.example.com/login?user=a&password={MASK}&x=1"


def test_json_escaped_forms_are_masked() -> None:
    secret = 'he said "hi" \\ naïve ☃'
    redactor = Redactor([secret])
    for ensure_ascii in (True, False):
        document = json.dumps({"password": secret, "user": "u"}, ensure_ascii=ensure_ascii)
        assert redactor.redact(document) == json.dumps({"password": MASK, "user": "u"})


def test_overlapping_secrets_leave_no_fragment() -> None:
    redactor = Redactor(["secret", "supersecretvalue", "abcdef", "cdefgh123"])
    assert redactor.redact("a supersecretvalue b secret c") == f"a {MASK} b {MASK} c"
    assert redactor.redact("xxabcdefgh123yy") == f"xx{MASK}yy"


def test_redact_obj_deep_copies_and_masks_keys_and_values() -> None:
    redactor = Redactor(["tok-123456", "424242"])
    original: dict[str, Any] = {"tok-123456": ["Bearer tok-123456", {"n": 424242, "ok": True, "z": None}],
                "t": ("x", "tok-123456"), "f": 1.5}
    redacted = redactor.redact_obj(original)
    assert redacted == {MASK: [f"Bearer {MASK}", {"n": MASK, "ok": True, "z": None}],
                        "t": ("x", MASK), "f": 1.5}
    assert original["tok-123456"][0] == "Bearer tok-123456"  # input untouched


def test_redact_bytes_keeps_invalid_utf8() -> None:
    redactor = Redactor(["hunter22"])
    data = b"\xff\xfe pw=hunter22 \x80"
    assert redactor.redact_bytes(data) == b"\xff\xfe pw=**** \x80"


@pytest.mark.slow
def test_redacting_200k_log_lines_is_fast() -> None:
    secrets = [f"S{i}-{'k7Q9x2' * (i + 1)}!" for i in range(10)]
    redactor = Redactor(secrets)
    lines = [
        f"2024-05-01T12:00:{i % 60:02d}Z INFO GET /api/v1/items?page={i} status=200 rows=100 ok"
        for i in range(200_000)
    ]
    lines[1234] = f"DEBUG auth header Bearer {secrets[3]} sent"
    text = "\n".join(lines)
    started = time.perf_counter()
    redacted = redactor.redact(text)
    whole = time.perf_counter() - started
    started = time.perf_counter()
    per_line = [redactor.redact(line) for line in lines]
    each = time.perf_counter() - started
    # Measured ~0.2 s (whole) and ~0.8 s (line by line); 5 s is a generous sanity bound.
    assert whole < 5 and each < 5, (whole, each)
    assert redacted.count(MASK) == 1 and secrets[3] not in redacted
    assert per_line[1234] == f"DEBUG auth header Bearer {MASK} sent"


def test_module_does_not_import_textual() -> None:
    code = "import sys, peak_tui.secrets; print('textual' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert out.stdout.strip() == "False", out.stderr


# --- properties -----------------------------------------------------------------------------

# '*' is excluded from secrets: the mask itself is made of it, so "a***" could re-form from
# "a" + "****" without anything leaking.
_secrets = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="*"),
    min_size=4, max_size=24,
)


def _forms(secret: str) -> list[str]:
    data = secret.encode()
    forms = [secret, quote(secret, safe=""), quote_plus(secret, safe=""),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]]
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        encoded = encode(data).decode()
        forms += [encoded, encoded.rstrip("=")]
    return forms


@settings(max_examples=150, deadline=None)
@given(secret=_secrets, before=st.text(max_size=30), after=st.text(max_size=30))
def test_no_form_survives_redaction(secret: str, before: str, after: str) -> None:
    redactor = Redactor([secret])
    for form in _forms(secret):
        redacted = redactor.redact(before + form + after)
        assert form not in redacted
        assert MASK in redacted


@settings(max_examples=150, deadline=None)
@given(secret=_secrets, before=st.binary(max_size=12), after=st.binary(max_size=12),
       urlsafe=st.booleans())
def test_no_embedded_base64_survives_redaction(
    secret: str, before: bytes, after: bytes, urlsafe: bool
) -> None:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(before + secret.encode() + after).decode()
    redacted = Redactor([secret]).redact(f"data:{blob};")
    assert not _decodes_to_secret(redacted, secret.encode())
