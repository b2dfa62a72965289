"""The workspace warehouse settings: rules with clear errors, secrets encrypted and redacted, which
destinations each kind offers, connection tests with a verdict, and the `peak-tui warehouse` CLI."""
from __future__ import annotations

import sqlite3

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from peak_tui import warehouse
from peak_tui.destinations import offered
from peak_tui.errors import DestinationError, ValidationError
from tests.services import SNOWFLAKE_VALUES, redshift_values

RS_BASE = {"cluster_id": "c1", "database": "dev", "db_user": "u", "region": "eu-west-1",
           "iam_role": "arn:aws:iam::123456789012:role/copy", "bucket": "lake-1"}


def _db_text(ws) -> str:  # type: ignore[no-untyped-def]
    conn = sqlite3.connect(ws.home / "peak.db")
    try:
        return "\n".join(str(r) for r in conn.execute("SELECT key, value FROM settings"))
    finally:
        conn.close()


def test_local_is_the_default_and_kinds_decide_the_destinations(ws) -> None:
    assert ws.warehouse_kind() == "local" and offered(ws) == ("local",)
    warehouse.save(ws, "redshift", RS_BASE)
    assert ws.warehouse_kind() == "redshift" and offered(ws) == ("redshift", "s3")
    warehouse.save(ws, "snowflake", dict(SNOWFLAKE_VALUES))
    assert offered(ws) == ("snowflake",)
    warehouse.use(ws, "redshift")  # both stay configured; switching back keeps the settings
    assert warehouse.public(ws)["redshift"]["bucket"] == "lake-1"
    assert warehouse.public(ws)["configured"] == ["redshift", "snowflake"]
    warehouse.save(ws, "local", {})
    assert ws.warehouse_kind() == "local"


@pytest.mark.parametrize(("changes", "field", "rule"), [
    ({"workgroup": "wg1"}, "cluster_id", "exactly one of cluster_id"),
    ({"cluster_id": "", "workgroup": "wg1"}, "db_user", "serverless uses your IAM identity"),
    ({"db_user": ""}, "db_user", "needs a db_user or a secret_arn"),
    ({"region": "Europe"}, "region", "AWS region like eu-west-1"),
    ({"iam_role": "copy-role"}, "iam_role", "IAM role ARN"),
    ({"bucket": "Lake_1"}, "bucket", "S3 bucket name"),
    ({"prefix": "a//b"}, "prefix", "empty, '.' or '..'"),
    ({"endpoint_url": "localhost:9000"}, "endpoint_url", "http:// or https://"),
    ({"secret_arn": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"}, "secret_arn",
     "not both"),
    ({"colour": "red"}, "redshift", "has no setting 'colour'"),
])
def test_redshift_rules_name_the_field(ws, changes, field, rule) -> None:
    with pytest.raises(ValidationError, match=rule) as e:
        warehouse.save(ws, "redshift", {**RS_BASE, **changes})
    assert e.value.field.endswith(field)
    assert ws.warehouse_kind() == "local"  # nothing saved


def test_snowflake_secrets_are_encrypted_masked_and_redacted(ws) -> None:
    public = warehouse.save(ws, "snowflake", {**SNOWFLAKE_VALUES,
                                              "account": "https://MyOrg-Acct.snowflakecomputing.com"})
    assert public["snowflake"]["password"] == "****" and public["snowflake"]["account"] == "myorg-acct"
    assert SNOWFLAKE_VALUES["password"] not in _db_text(ws)
    assert warehouse.settings(ws, "snowflake")["password"] == SNOWFLAKE_VALUES["password"]
    line = f"login failed for loader:{SNOWFLAKE_VALUES['password']}"
    assert SNOWFLAKE_VALUES["password"] not in ws.redactor().redact(line)
    with pytest.raises(ValidationError, match="password: is required for password authentication"):
        warehouse.save(ws, "snowflake", {"password": ""})


def test_snowflake_key_pair_from_text_with_a_passphrase(ws, tmp_path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"open sesame")).decode()
    base = {**SNOWFLAKE_VALUES, "auth": "keypair", "password": ""}
    with pytest.raises(ValidationError, match="is encrypted: set private_key_passphrase"):
        warehouse.save(ws, "snowflake", {**base, "private_key": pem})
    with pytest.raises(ValidationError, match="passphrase is wrong"):
        warehouse.save(ws, "snowflake", {**base, "private_key": pem, "private_key_passphrase": "nope"})
    with pytest.raises(ValidationError, match="private_key_path: cannot be read"):
        warehouse.save(ws, "snowflake", {**base, "private_key_path": str(tmp_path / "missing.pem")})
    warehouse.save(ws, "snowflake", {**base, "private_key": pem, "private_key_passphrase": "open sesame"})
    saved = warehouse.settings(ws, "snowflake")
    assert saved["private_key"] == pem and saved["password"] == ""
    body_line = pem.splitlines()[3]
    assert body_line not in _db_text(ws) and "open sesame" not in _db_text(ws)
    assert body_line not in ws.redactor().redact(f"key line: {body_line}")


def test_incomplete_settings_explain_how_to_fix(ws) -> None:
    with pytest.raises(DestinationError, match="peak-tui warehouse set redshift"):
        warehouse.settings(ws, "redshift")


def test_connection_verdicts(ws, moto_server, s3_bucket, redshift_pg, fakesnow_db) -> None:
    assert warehouse.test_connection(ws).ok  # local
    verdict = warehouse.test_connection(ws, "redshift",
                                        redshift_values(moto_server, s3_bucket, redshift_pg))
    assert verdict.ok, verdict.message
    assert f"database {redshift_pg}" in verdict.message and s3_bucket in verdict.message
    bad = warehouse.test_connection(ws, "redshift", redshift_values(moto_server, "gone-bucket",
                                                                     redshift_pg))
    assert not bad.ok and "gone-bucket" in bad.message and bad.line().startswith("connection FAILED")
    missing = warehouse.test_connection(ws, "snowflake")
    assert not missing.ok and "incomplete" in missing.message
    warehouse.save(ws, "snowflake", dict(SNOWFLAKE_VALUES))
    ok = warehouse.test_connection(ws)
    assert ok.ok and ok.kind == "snowflake" and "schema STAGE ready" in ok.message


def test_feeds_must_use_an_offered_destination(demo_ws, moto_server, s3_bucket) -> None:
    ws = demo_ws
    public = warehouse.save(ws, "redshift", redshift_values(moto_server, s3_bucket))
    assert "demo_orders (local)" in public["stranded_feeds"]
    feed = ws.feeds.get("demo_orders")
    feed.destination = {"type": "snowflake"}
    with pytest.raises(ValidationError, match="not offered"):
        ws.feeds.save(feed)
    feed.destination = {"type": "s3"}
    ws.feeds.save(feed)
    assert "demo_orders (local)" not in warehouse.public(ws)["stranded_feeds"]


def test_cli_set_show_test(ws, cli, moto_server, s3_bucket) -> None:
    r = cli("warehouse", "set", "snowflake", "--account", "acme-x", "--user", "loader",
            "--password-env", "SF_PW", "--warehouse", "WH", "--database", "DB",
            env={"SF_PW": "cli-secret-771"})
    assert r.code == 0, r
    shown = cli("warehouse", "show", "--json").json()
    assert shown["kind"] == "snowflake" and shown["snowflake"]["password"] == "****"
    assert "cli-secret-771" not in cli("warehouse", "show").out
    r = cli("warehouse", "set", "redshift", "--cluster-id", "c1", "--database", "dev", "--db-user", "u",
            "--region", "us-east-1", "--iam-role", "arn:aws:iam::123456789012:role/r",
            "--bucket", "Bad_Bucket")
    assert r.code == 2 and "warehouse.redshift.bucket: must be an S3 bucket name" in r.err
    values = redshift_values(moto_server, "no-such-bucket-9")
    args = [x for k, v in values.items() for x in (f"--{k.replace('_', '-')}", v)]
    r = cli("warehouse", "set", "redshift", *args, "--test",
            env={"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"})
    assert r.code == 1 and "connection FAILED" in r.out and "no-such-bucket-9" in r.out, r
    assert cli("warehouse", "test", "local").out.startswith("connection OK")
