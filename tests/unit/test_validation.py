"""The product's rules: each error names the field, the rule and the offending value, word for word."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peak_tui import validation as v
from peak_tui.environments import normalize_requirements, validate_requirement
from peak_tui.errors import ValidationError
from peak_tui.models import (
    Connection,
    Feed,
    validate_destination,
    validate_trigger,
    validate_watcher,
)

FEED_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]{0,48}[A-Za-z0-9])?")
CONNECTION_NAME = re.compile(r"[A-Za-z0-9]{1,64}")
TAG = re.compile(r"[A-Za-z0-9]{1,32}")


def err(fn: Callable[..., Any], *args: Any) -> str:
    with pytest.raises(ValidationError) as info:
        fn(*args)
    return str(info.value)


NAME_CASES = [
    (v.connection_name, "", "connection.name: is required (got '')"),
    (v.connection_name, None, "connection.name: is required (got None)"),
    (v.connection_name, "my api", "connection.name: must be alphanumeric (letters and digits only) "
                                  "(got 'my api')"),
    (v.connection_name, "my_api", "connection.name: must be alphanumeric (letters and digits only) "
                                  "(got 'my_api')"),
    (v.connection_name, "é1", "connection.name: must be alphanumeric (letters and digits only) "
                              "(got 'é1')"),
    (v.connection_name, "a" * 65, f"connection.name: must be at most 64 characters (got {'a' * 65!r})"),
    (v.feed_name, "", "feed.name: is required (got '')"),
    (v.feed_name, 7, "feed.name: must be text (got 7)"),
    (v.connection_name, ["a"], "connection.name: must be text (got ['a'])"),
    (v.tag, 5, "feed.tags: a tag must be text (got 5)"),
    (v.feed_name, "1orders", "feed.name: must start with a letter (got '1orders')"),
    (v.feed_name, "_orders", "feed.name: must start with a letter (got '_orders')"),
    (v.feed_name, "éorders", "feed.name: must start with a letter (got 'éorders')"),
    (v.feed_name, "orders-v2", "feed.name: may contain only letters, digits and underscores "
                               "(got 'orders-v2')"),
    (v.feed_name, "orders v2", "feed.name: may contain only letters, digits and underscores "
                               "(got 'orders v2')"),
    (v.feed_name, "orders_", "feed.name: must not end with an underscore (got 'orders_')"),
    (v.feed_name, "a" * 51, f"feed.name: must be at most 50 characters (got {'a' * 51!r})"),
    (v.tag, "", "feed.tags: a tag must not be empty (got '')"),
    (v.tag, "team-a", "feed.tags: a tag must be alphanumeric (letters and digits only) (got 'team-a')"),
    (v.tag, "t" * 33, f"feed.tags: a tag must be at most 32 characters (got {'t' * 33!r})"),
    (v.tags, "finance", "feed.tags: must be a list of tags (got 'finance')"),
    (v.auth_type, "oauth", "connection.auth_type: must be one of none, basic, custom (got 'oauth')"),
    (v.auth_type, None, "connection.auth_type: must be one of none, basic, custom (got None)"),
]


@pytest.mark.parametrize(("fn", "value", "message"), NAME_CASES)
def test_name_tag_and_auth_rules(fn: Callable[[Any], Any], value: Any, message: str) -> None:
    assert err(fn, value) == message


def test_valid_names_pass_unchanged() -> None:
    assert v.connection_name("Api2") == "Api2"
    assert v.feed_name("a" * 50) == "a" * 50
    assert v.feed_name("Orders_v2_x") == "Orders_v2_x"
    assert v.tags(["fin", "ops", "fin"]) == ["fin", "ops"]
    assert v.tags(None) == []
    assert [v.auth_type(a) for a in ("none", "basic", "custom")] == ["none", "basic", "custom"]


NAMEISH = st.text(alphabet=st.sampled_from("aZ09_-é .\n"), max_size=70)


@given(st.one_of(NAMEISH, st.from_regex(FEED_NAME, fullmatch=True), st.text(max_size=60)))
def test_feed_name_accepts_exactly_its_language(name: str) -> None:
    ok = FEED_NAME.fullmatch(name) is not None
    if ok:
        assert v.feed_name(name) == name
    else:
        with pytest.raises(ValidationError) as info:
            v.feed_name(name)
        assert info.value.field == "feed.name" and info.value.value == name


@given(st.one_of(NAMEISH, st.from_regex(CONNECTION_NAME, fullmatch=True), st.text(max_size=70)))
def test_connection_name_accepts_exactly_its_language(name: str) -> None:
    if CONNECTION_NAME.fullmatch(name):
        assert v.connection_name(name) == name
    else:
        with pytest.raises(ValidationError) as info:
            v.connection_name(name)
        assert info.value.field == "connection.name"


@given(st.one_of(NAMEISH, st.from_regex(TAG, fullmatch=True)))
def test_tag_accepts_exactly_its_language(value: str) -> None:
    if TAG.fullmatch(value):
        assert v.tag(value) == value
    else:
        assert err(v.tag, value).startswith("feed.tags: a tag ")


def basic(**kw: Any) -> Connection:
    return Connection(name="c", auth_type="basic", **kw)


def custom(**kw: Any) -> Connection:
    return Connection(name="c", auth_type="custom", **kw)


CONNECTION_CASES = [
    (basic(password="p4ss"), "connection.username: is required for Basic Auth (got '')"),
    (basic(username="u"), "connection.password: is required for Basic Auth"),
    (custom(), "connection.auth_url: is required (got '')"),
    (custom(auth_url="ftp://auth.example"), "connection.auth_url: must be an http:// or https:// URL "
                                            "(got 'ftp://auth.example')"),
    (custom(auth_url="example.com/token"), "connection.auth_url: must be an http:// or https:// URL "
                                           "(got 'example.com/token')"),
    (custom(auth_url="http://a.b", headers={"X Key": "v"}),
     "connection.headers: a header name must be a non-empty HTTP token (no spaces or colons) "
     "(got 'X Key')"),
    (custom(auth_url="http://a.b", headers={"X-Key": "line1\nline2"}),
     "connection.headers: the value of header 'X-Key' must be one line of text"),
    (custom(auth_url="http://a.b", headers=["X-Key: v"]),
     "connection.headers: must be a mapping of header name to value (got ['X-Key: v'])"),
    (custom(auth_url="http://a.b", body='{"client_id": "x",}'),
     "connection.body: must be valid JSON: Expecting property name enclosed in double quotes at "
     "line 1 column 19"),
    (custom(auth_url="http://a.b", body="[1, 2]"), "connection.body: must be a JSON object ({...})"),
    (custom(auth_url="http://a.b", body='"secretvalue"'),
     "connection.body: must be a JSON object ({...})"),
]


@pytest.mark.parametrize(("conn", "message"), CONNECTION_CASES)
def test_connection_rules(conn: Connection, message: str) -> None:
    assert err(conn.validate) == message


def test_secret_values_never_appear_in_connection_errors() -> None:
    message = err(custom(auth_url="http://a.b", headers={"X-Key": "hunter2\nx"}).validate)
    assert "hunter2" not in message
    message = err(custom(auth_url="http://a.b", body='{"secret": "hunter2"').validate)
    assert "hunter2" not in message


def test_custom_connection_normalises() -> None:
    conn = custom(auth_url="  https://auth.example/token ", headers={"X-Key": "v"},
                  body='{"id": 1}').validate()
    assert (conn.auth_url, conn.body) == ("https://auth.example/token", {"id": 1})
    assert v.parse_header_line("X-Api-Key:  abc ") == ("X-Api-Key", "abc")
    assert err(v.parse_header_line, "X-Api-Key abc") == (
        "connection.headers: a header must look like 'Name: value' (got 'X-Api-Key abc')")


REQUIREMENT_CASES = [
    ("pandas>>2", "dependencies: must be a pip requirement like 'pandas>=2.0' (got 'pandas>>2')"),
    ("-e .", "dependencies: must be a package requirement, not a pip option such as -e or "
             "--index-url (got '-e .')"),
    ("git+https://x.example/r", "dependencies: must name a package on the index, not a URL, a path "
                                "or 'name @ url' (got 'git+https://x.example/r')"),
    ("pandas; rm -rf /", "dependencies: must be a pip requirement like 'pandas>=2.0' "
                         "(got 'pandas; rm -rf /')"),
    ("$(id)", "dependencies: must not contain shell characters (` $ | & \\ # { }) or control "
              "characters (got '$(id)')"),
    ("", "dependencies: must not be empty (got '')"),
]


@pytest.mark.parametrize(("req", "message"), REQUIREMENT_CASES)
def test_requirement_rules(req: str, message: str) -> None:
    assert err(validate_requirement, req) == message


def test_requirements_normalised_and_one_string_refused() -> None:
    assert normalize_requirements(["Pandas>=2.0", "pandas>=2.0", "Flask"]) == ["flask", "pandas>=2.0"]
    assert err(normalize_requirements, "pandas") == (
        "dependencies: must be a list of requirements, not one string (got 'pandas')")


TRIGGER_CASES = [
    ({"type": "cron"}, "feed.trigger.type: must be one of manual, schedule, webhook, once (got 'cron')"),
    ("hourly", "feed.trigger.type: must be one of manual, schedule, webhook, once (got 'hourly')"),
    ({"type": "schedule"}, "feed.trigger: a schedule needs either 'cron' or 'basic'"),
    ({"type": "once", "at": "tomorrow"},
     "feed.trigger.at: must be an ISO date-time like 2026-12-01T09:30 (got 'tomorrow')"),
    ({"type": "once"},
     "feed.trigger.at: is required for a one-time trigger (an ISO date-time like 2026-12-01T09:30)"),
    ({"type": "webhook", "hmac": "yes"}, "feed.trigger.hmac: must be true or false (got 'yes')"),
]


@pytest.mark.parametrize(("trigger", "message"), TRIGGER_CASES)
def test_trigger_rules(trigger: Any, message: str) -> None:
    assert err(validate_trigger, trigger) == message


def test_valid_triggers() -> None:
    assert validate_trigger("manual") == {"type": "manual"}
    assert validate_trigger({"type": "webhook"}) == {"type": "webhook", "hmac": False}
    cron = {"type": "schedule", "cron": "0 15 10 ? * 6L", "timezone": "UTC"}
    assert validate_trigger(cron) == cron
    every = {"type": "schedule", "basic": {"every": 15, "unit": "minutes"}}
    assert validate_trigger(every) == every


WATCHER_CASES = [
    ("x", "feed.watchers[0]: must be a table with 'events' and 'channel' (got 'x')"),
    ({"events": []}, "feed.watchers[0].events: must list one or more of success, failure, "
                     "runtime_exceeded (got [])"),
    ({"events": ["boom"]}, "feed.watchers[0].events: must be among success, failure, "
                           "runtime_exceeded (got 'boom')"),
    ({"events": ["runtime_exceeded"], "channel": "email", "to": ["a@b.co"]},
     "feed.watchers[0].runtime_minutes: must be a whole number >= 1 (got None)"),
    ({"events": ["success"], "channel": "sms"},
     "feed.watchers[0].channel: must be one of email, webhook (got 'sms')"),
    ({"events": ["failure"], "channel": "email", "to": []},
     "feed.watchers[0].to: must list at least one email address (got [])"),
    ({"events": ["failure"], "channel": "email", "to": ["ops"]},
     "feed.watchers[0].to: must be an email address like name@example.com (got 'ops')"),
    ({"events": ["failure"], "channel": "webhook", "url": "http://h.example"},
     "feed.watchers[0].name: is required for a webhook watcher (got None)"),
    ({"events": ["failure"], "channel": "webhook", "name": "ops", "url": "h.example"},
     "feed.watchers[0].url: must be an http:// or https:// URL (got 'h.example')"),
]


@pytest.mark.parametrize(("watcher", "message"), WATCHER_CASES)
def test_watcher_rules(watcher: Any, message: str) -> None:
    assert err(validate_watcher, watcher, 0) == message


def test_watcher_index_and_email_shorthand() -> None:
    assert err(validate_watcher, {"events": []}, 3).startswith("feed.watchers[3].events:")
    w = validate_watcher({"events": ["success"], "channel": "email", "to": "a@b.co"})
    assert w["to"] == ["a@b.co"]


def test_destination_rules() -> None:
    assert validate_destination("local") == {"type": "local"}
    assert err(validate_destination, "postgres") == (
        "feed.destination: must be one of local, s3, redshift, snowflake (got 'postgres')")
    assert err(validate_destination, {"bucket": "b"}) == (
        "feed.destination: must be one of local, s3, redshift, snowflake (got None)")


def feed(**kw: Any) -> Feed:
    base: dict[str, Any] = {"name": "orders", "connection": "api", "script": "print(1)\n"}
    base.update(kw)
    return Feed(**base)


FEED_CASES = [
    (feed(script="   \n"), "feed.script: must not be empty"),
    (feed(script="x = 1\nif x\n    pass\n"), "feed.script: has a syntax error on line 2: expected ':'"),
    (feed(load_type="full"), "feed.load_type: must be 'incremental' (the only load type) (got 'full')"),
    (feed(paused="yes"), "feed.paused: must be true or false (got 'yes')"),
    (feed(failed_row_threshold=1.5),
     "feed.failed_row_threshold: must be a fraction from 0 to 1 (got 1.5)"),
    (feed(timeout_seconds=0), "feed.timeout_seconds: must be a whole number >= 1 (got 0)"),
    (feed(timeout_seconds=2.5), "feed.timeout_seconds: must be a whole number >= 1 (got 2.5)"),
    (feed(memory_mb=32), "feed.memory_mb: must be a whole number >= 64 (got 32)"),
    (feed(connection="my api"), "connection.name: must be alphanumeric (letters and digits only) "
                                "(got 'my api')"),
    (feed(dependencies=["pandas>>2"]),
     "dependencies: must be a pip requirement like 'pandas>=2.0' (got 'pandas>>2')"),
]


@pytest.mark.parametrize(("f", "message"), FEED_CASES)
def test_feed_rules(f: Feed, message: str) -> None:
    assert err(f.validate) == message


def test_feed_validate_normalises() -> None:
    f = feed(script="a = 1\r\nb = 2\r\n", tags=["x", "x", "y"], dependencies=["Pandas>=2"],
             destination="local", trigger="manual").validate()
    assert f.script == "a = 1\nb = 2\n"
    assert (f.tags, f.dependencies) == (["x", "y"], ["pandas>=2"])
    assert (f.destination, f.trigger) == ({"type": "local"}, {"type": "manual"})
    assert err(Feed.from_dict, {"name": "a", "connection": "b", "script": "c", "colour": 1}) == (
        "feed: has unknown keys: colour")
