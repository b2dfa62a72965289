"""Property tests for the validators not covered elsewhere: whatever they accept is well-formed,
what they must refuse they refuse, and on any input they raise nothing but ValidationError
(never a TypeError, ValueError or RecursionError that would reach the user as a traceback)."""
from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from packaging.requirements import Requirement

from peak_tui import feedfile, schedule
from peak_tui import validation as v
from peak_tui.environments import validate_requirement
from peak_tui.errors import PeakError, ValidationError
from peak_tui.models import validate_trigger, validate_watcher

SOME = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MORE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TCHAR = "!#$%&'*+.^_`|~-" + string.ascii_letters + string.digits
SHELL = "`$|&\\#{}"

# JSON-like values, nested, with the keys and words the validators look for mixed in
WORDS = st.sampled_from(["schedule", "once", "webhook", "manual", "0 0 12 * * ?", "*/5 * * * *", "UTC",
                         "Europe/London", "success", "failure", "runtime_exceeded", "email", "a@b.co",
                         "http://h.example", "http://[", "{feed}", '{"n": {records}}', "2026-01-01T09:30",
                         "minutes", "hours", "MON", "09:30", ""])
LEAF = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30), st.floats(), WORDS,
                 st.text(max_size=12))
KEYS = st.sampled_from(["type", "cron", "basic", "timezone", "at", "hmac", "days", "time", "every",
                        "unit", "events", "runtime_minutes", "channel", "to", "name", "url", "payload"])
JSONISH = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(KEYS | st.text(max_size=6), inner, max_size=5)),
    max_leaves=20)
DICTS = st.dictionaries(KEYS, JSONISH, max_size=6)


def refused(fn: Any, *args: Any) -> ValidationError | None:
    """The ValidationError `fn` raised, or None if it accepted; any other exception fails the test."""
    try:
        fn(*args)
    except ValidationError as e:
        assert e.message and e.field, e
        return e
    return None


# ------------------------------------------------------------------------------- requirements
NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,12}[A-Za-z0-9]", fullmatch=True)
SPEC = st.tuples(st.sampled_from(["==", ">=", "<=", "~=", "!=", ">", "<"]),
                 st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True)).map("".join)
EXTRAS = st.lists(NAME, max_size=2).map(lambda xs: f"[{','.join(xs)}]" if xs else "")
MARKER = st.sampled_from(["", "; python_version >= '3.8'", "; sys_platform == 'linux'"])
REQUIREMENT = st.builds(lambda n, e, s, m: f"{n}{e}{','.join(s)}{m}", NAME, EXTRAS,
                        st.lists(SPEC, max_size=2), MARKER)


@SOME
@given(st.one_of(REQUIREMENT, st.text(max_size=40),
                 st.builds("{}{}{}".format, REQUIREMENT, st.sampled_from(" @:/;,~"), st.text(max_size=8))))
@example("requests @ https://x.example/r.whl")
@example("pkg.whl")
def test_an_accepted_requirement_is_an_index_requirement(text: str) -> None:
    if refused(validate_requirement, text) is None:
        req = Requirement(validate_requirement(text))
        assert req.url is None and req.name
        assert validate_requirement(str(req)) == str(req)  # canonical: accepting it again is a no-op
        assert not any(ch in SHELL or not ch.isprintable() for ch in text.strip())


@SOME
@given(REQUIREMENT, st.sampled_from(SHELL + "\n\t\r\x00\x1b"), st.integers(0, 40))
def test_shell_and_control_characters_are_refused(req: str, ch: str, at: int) -> None:
    at = 1 + at % (len(req) - 1)  # inside: surrounding whitespace is stripped, not refused
    e = refused(validate_requirement, req[:at] + ch + req[at:])
    assert e is not None and e.field == "dependencies"


@SOME
@given(st.text(alphabet=" \t\r\n\x0b\x0c\u00a0\u2003", max_size=10))
def test_blank_requirements_are_refused(text: str) -> None:
    assert refused(validate_requirement, text) is not None


# ------------------------------------------------------------------------------------ headers
@SOME
@given(st.one_of(st.text(alphabet=TCHAR, max_size=20), st.text(max_size=20)), st.text(max_size=30))
def test_header_names_are_tokens_and_values_one_line(name: str, value: str) -> None:
    token = bool(name) and all(ch in TCHAR for ch in name)
    assert (refused(v.header_name, name) is None) == token
    e = refused(v.headers, {name: value})
    assert (e is None) == (token and "\r" not in value and "\n" not in value)
    if e is not None and token and len(value) > 3:
        assert value not in e.message  # header values are secrets: never echoed


# ---------------------------------------------------------------------------------- JSON bodies
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=15)


@SOME
@given(st.dictionaries(st.text(max_size=8), JSON_VALUE, max_size=5))
def test_any_json_object_is_accepted_and_round_trips(obj: dict[str, Any]) -> None:
    assert v.json_body(obj) == obj
    assert v.json_body(json.dumps(obj)) == obj


@SOME
@given(JSON_VALUE.filter(lambda x: not isinstance(x, dict) and x is not None and x != ""))
def test_json_that_is_not_an_object_is_refused(value: Any) -> None:
    for given_as in ([json.dumps(value)] if isinstance(value, str) else [value, json.dumps(value)]):
        e = refused(v.json_body, given_as)
        assert e is not None and e.rule == "must be a JSON object ({...})"


@SOME
@given(st.text(max_size=30) | st.integers(1, 5000).map(lambda n: "[" * n + "{" * n))
@example("[" * 100_000)
def test_any_text_body_is_refused_cleanly_or_an_object(text: str) -> None:
    if refused(v.json_body, text) is None:
        assert v.json_body(text) is None or isinstance(v.json_body(text), dict)


# ------------------------------------------------------------------------------- emails and URLs
@SOME
@given(st.emails())
def test_real_email_addresses_are_accepted(address: str) -> None:
    assert v.email("to", address) == address


@SOME
@given(st.one_of(st.text(max_size=30), st.builds("{}@{}".format, st.text(max_size=10), st.text(max_size=10))))
def test_an_accepted_email_is_one_plain_address(text: str) -> None:
    if refused(v.email, "to", text) is None:
        local, _, domain = text.strip().partition("@")
        assert local and "." in domain and "@" not in domain
        assert not re.search(r'[\s,;<>()\[\]\\"\x00-\x1f\x7f]', text.strip())


URL = st.builds("{}://{}{}{}".format, st.sampled_from(["http", "https", "ftp", "HTTP", "", "javascript"]),
                st.one_of(st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z]{2,5}){0,2}", fullmatch=True),
                          st.sampled_from(["[::1]", "[", "127.0.0.1", "", "user:pw@h.example"])),
                st.sampled_from(["", ":80", ":0", ":65535", ":65536", ":x", ":-1"]),
                st.sampled_from(["", "/", "/a b", "/p?q=1#f", "/\x00", "/ü"]))


@SOME
@given(st.one_of(URL, st.text(max_size=30)))
@example("http://[")
def test_an_accepted_url_is_absolute_http_with_a_host(text: str) -> None:
    if refused(v.http_url, "url", text) is None:
        parts = urlsplit(v.http_url("url", text))
        assert parts.scheme in ("http", "https") and parts.hostname
        assert parts.port is None or 0 <= parts.port <= 65535
        assert not any(ch.isspace() or not ch.isprintable() for ch in text.strip())


# ------------------------------------------------------------------------ triggers and watchers
@MORE
@given(st.one_of(DICTS, JSONISH))
@example({"events": ["failure"], "channel": "webhook", "name": "ops", "url": "http://["})
@example({"events": ["success"], "channel": "webhook", "name": "o", "url": "http://h.example",
          "payload": "[" * 5000})
@example({"type": "schedule", "cron": "0 " + "9" * 5000 + " * * * ?"})
@example({"type": "schedule", "basic": {"every": 10**5000, "unit": "hours"}})
def test_triggers_and_watchers_raise_only_validation_errors(value: Any) -> None:
    if refused(validate_trigger, value) is None:
        clean = validate_trigger(value)
        assert validate_trigger(clean) == clean and clean["type"] in v.TRIGGER_TYPES
    e = refused(validate_watcher, value, 2)
    if e is None:
        clean = validate_watcher(value, 2)
        assert validate_watcher(clean, 2) == clean and clean["channel"] in v.WATCHER_CHANNELS
    else:
        assert e.field.startswith("feed.watchers[2]")


# ----------------------------------------------------------------------------------- cron text
TOKEN = st.sampled_from(["0", "5", "12", "59", "60", "*", "?", "/", ",", "-", "L", "W", "#", "LW", "L-3",
                         "15W", "6L", "6#3", "MON", "FRI", "JAN", "DEC", "2030", "1969", "99999", " ",
                         "  ", "\t", "\u00a0", "ı", "ß"])
CRONISH = st.lists(TOKEN, max_size=25).map("".join)


@SOME
@given(st.one_of(CRONISH, st.text(max_size=40)))
@example("0 " + "9" * 5000 + " 12 * * ?")
def test_cron_text_raises_only_validation_errors(text: str) -> None:
    if refused(schedule.parse, text) is None and refused(schedule.validate, text) is None:
        cron = schedule.validate(text)
        again = schedule.parse(cron.quartz)  # the normalised form means the same schedule
        assert (again.seconds, again.minutes, again.hours, again.day_of_month, again.months,
                again.day_of_week, again.years) == (cron.seconds, cron.minutes, cron.hours,
                                                    cron.day_of_month, cron.months, cron.day_of_week,
                                                    cron.years)
        assert schedule.describe(cron)


# ------------------------------------------------------------------------------------ feed TOML
TOML_KEY = st.sampled_from([*feedfile.KEYS, "[trigger]", "[[watchers]]", "[destination]", "type", "x"])
TOML_ATOM = st.one_of(
    st.integers(-(10**20), 10**20).map(str), st.floats().map(repr),
    st.sampled_from(["true", "nan", "-inf", "1979-05-27T07:32:00Z", "07:32:00", "'lit'", '"a\\u0000b"',
                     '"manual"', '"webhook"', '["pandas>=2"]', '"0 0 12 * * ?"']),
    st.text(max_size=12).map(json.dumps))
TOML_VALUE = st.recursive(TOML_ATOM, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(st.tuples(KEYS, inner), max_size=3).map(
        lambda kv: "{" + ", ".join(f"{k} = {x}" for k, x in kv) + "}")), max_leaves=8)
TOML_LINE = st.one_of(st.tuples(TOML_KEY, TOML_VALUE).map(
    lambda t: t[0] if t[0].startswith("[") else f"{t[0]} = {t[1]}"), st.text(max_size=20))
HEAD = 'name = "fuzzed"\nconnection = "api"\nscript = "x = 1"\n'


@MORE
@given(st.booleans(), st.lists(TOML_LINE, max_size=8).map("\n".join))
@example(True, "dependencies = 12")
@example(False, "a = " + "[" * 50_000)
def test_feed_toml_raises_only_peak_errors(with_head: bool, text: str) -> None:
    try:
        feed = feedfile.parse((HEAD if with_head else "") + text, Path("/nonexistent-dir"))
    except PeakError as e:
        assert e.message
        return
    assert feedfile.parse(feedfile.to_toml(feed)).to_dict() == feed.to_dict()
