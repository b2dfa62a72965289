"""The Redshift destination: golden SQL for what only Redshift can run, the Data API calls, and every
other step for real on a throwaway PostgreSQL cluster with the staged files in moto's S3."""
from __future__ import annotations

import boto3
import orjson
import pytest
from botocore.stub import Stubber

from peak_tui import warehouse
from peak_tui.destinations import redshift_sql as q
from peak_tui.destinations.redshift import RedshiftDestination
from peak_tui.destinations.redshift_exec import DataAPIExecutor, PostgresExecutor
from peak_tui.errors import DestinationError
from peak_tui.execution import run_feed
from tests.services import redshift_values

RS = DataAPIExecutor.literal.__get__(object())  # Redshift's quoting, without a client
PG = PostgresExecutor.literal.__get__(object())


def test_golden_ddl_and_copy() -> None:
    assert q.create_schema() == 'CREATE SCHEMA IF NOT EXISTS "stage"'
    assert q.create_commits() == (
        'CREATE TABLE IF NOT EXISTS "stage"."_peak_commits" (request_id VARCHAR(64) NOT NULL, '
        "feed VARCHAR(128) NOT NULL, metadata VARCHAR(65535) NOT NULL, records BIGINT NOT NULL, "
        "committed_at VARCHAR(40) NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (request_id))")
    assert q.create_table("orders", [("id", "BIGINT"), ("items", "SUPER")]) == (
        'CREATE TABLE IF NOT EXISTS "stage"."orders" ("peakauditcreatedat" TIMESTAMPTZ, '
        '"peakauditrequestid" VARCHAR(64), "id" BIGINT, "items" SUPER)')
    assert q.add_column("orders", "note", "VARCHAR(65535)") == (
        'ALTER TABLE "stage"."orders" ADD COLUMN "note" VARCHAR(65535)')
    assert q.columns_query("svv_columns", "orders", RS) == (
        "SELECT column_name, data_type, character_maximum_length FROM svv_columns WHERE "
        "table_schema = 'stage' AND table_name = 'orders' ORDER BY ordinal_position")
    copy = q.copy("orders", ["id", "items", "peakauditcreatedat", "peakauditrequestid"], {}, "lake",
                  "peak/_peak_staging/orders/r1/copy.manifest",
                  "arn:aws:iam::123456789012:role/peak-copy", "eu-west-1", RS)
    assert copy.sql == (
        'COPY "stage"."orders" ("id", "items", "peakauditcreatedat", "peakauditrequestid") FROM '
        "'s3://lake/peak/_peak_staging/orders/r1/copy.manifest' "
        "IAM_ROLE 'arn:aws:iam::123456789012:role/peak-copy' FORMAT AS JSON 'auto' MANIFEST GZIP "
        "TIMEFORMAT 'auto' REGION 'eu-west-1' MAXERROR 0 COMPUPDATE OFF STATUPDATE OFF")
    assert PostgresExecutor.translate(q.add_column("t", "x", "SUPER")).endswith('"x" JSONB')
    assert PostgresExecutor.translate("SELECT 'SUPER'") == "SELECT 'SUPER'"


def test_golden_commit_transaction_and_quoting() -> None:
    meta = orjson.dumps({"cursor": "it's", "path": "C:\\x"}).decode()
    batch = q.commit_batch(None, "r1", "orders", meta, 3, "2026-01-01T00:00:00+00:00", RS)
    assert batch.sql() == [
        'LOCK "stage"."_peak_commits"',
        'INSERT INTO "stage"."_peak_commits" (request_id, feed, metadata, records, committed_at, seq) '
        "SELECT 'r1', 'orders', '{\"cursor\":\"it''s\",\"path\":\"C:\\\\\\\\x\"}', 3, "
        "'2026-01-01T00:00:00+00:00', COALESCE(MAX(seq), 0) + 1 FROM \"stage\".\"_peak_commits\" "
        "WHERE feed = 'orders'",
        'SELECT 1 / (CASE WHEN COUNT(*) = 1 THEN 1 ELSE 0 END) FROM "stage"."_peak_commits" '
        "WHERE request_id = 'r1'",
    ]
    assert PG("C:\\x it's") == "'C:\\x it''s'"  # PostgreSQL: backslashes are plain characters
    assert q.select_commit("feed", "orders", RS) == (
        'SELECT request_id, feed, metadata, records, committed_at FROM "stage"."_peak_commits" '
        "WHERE feed = 'orders' ORDER BY seq DESC LIMIT 1")


def _stubbed(values: dict[str, str]) -> tuple[DataAPIExecutor, Stubber]:
    client = boto3.client("redshift-data", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    return DataAPIExecutor(values, client=client), Stubber(client)


def test_data_api_runs_the_batch_as_one_call_and_waits(aws_env: None) -> None:
    ex, stub = _stubbed({"cluster_id": "c1", "database": "dev", "db_user": "loader", "region": "us-east-1"})
    batch = q.commit_batch(None, "r1", "f", "{}", 0, "t", ex.literal)
    target = {"ClusterIdentifier": "c1", "Database": "dev", "DbUser": "loader"}
    stub.add_response("batch_execute_statement", {"Id": "s1"}, {"Sqls": batch.sql(), **target})
    stub.add_response("describe_statement", {"Id": "s1", "Status": "STARTED"}, {"Id": "s1"})
    stub.add_response("describe_statement", {"Id": "s1", "Status": "FINISHED"}, {"Id": "s1"})
    stub.add_response("execute_statement", {"Id": "s2"}, {"Sql": "SELECT 1", **target})
    stub.add_response("describe_statement", {"Id": "s2", "Status": "FINISHED", "HasResultSet": True},
                      {"Id": "s2"})
    stub.add_response("get_statement_result", {"Records": [[{"stringValue": "a"}, {"isNull": True}]],
                                               "NextToken": "p2"}, {"Id": "s2"})
    stub.add_response("get_statement_result", {"Records": [[{"longValue": 7}, {"booleanValue": True}]]},
                      {"Id": "s2", "NextToken": "p2"})
    with stub:
        ex.transaction(batch)
        assert ex.query("SELECT 1") == [("a", None), (7, True)]
    stub.assert_no_pending_responses()


def test_data_api_failure_names_the_cause_and_serverless_target(aws_env: None) -> None:
    ex, stub = _stubbed({"workgroup": "wg1", "database": "dev", "region": "us-east-1",
                         "secret_arn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs"})
    assert ex.target == {"Database": "dev", "WorkgroupName": "wg1",
                         "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:rs"}
    stub.add_response("execute_statement", {"Id": "s1"}, {"Sql": "COPY x", **ex.target})
    stub.add_response("describe_statement", {"Id": "s1", "Status": "FAILED",
                                             "Error": "ERROR: Load into table 'x' failed."}, {"Id": "s1"})
    with stub, pytest.raises(DestinationError, match="failed: ERROR: Load into table 'x' failed"):
        ex.execute("COPY x")


def _dest(ws, moto, bucket: str, database: str) -> RedshiftDestination:  # type: ignore[no-untyped-def]
    return RedshiftDestination(ws, redshift_values(moto, bucket, database))


def _rows(dest: RedshiftDestination, sql: str) -> list[tuple]:
    return dest.executor.query(sql)


def test_demo_feed_runs_into_redshift_via_postgres(demo_ws, moto_server, s3_bucket, redshift_pg) -> None:
    ws = demo_ws
    warehouse.save(ws, "redshift", redshift_values(moto_server, s3_bucket, redshift_pg))
    feed = ws.feeds.get("demo_orders")
    feed.destination = {"type": "redshift"}
    ws.feeds.save(feed)
    run = run_feed(ws, "demo_orders")
    assert run.status == "succeeded", run.error
    dest = ws.destination(feed.destination)
    rows = _rows(dest, "SELECT count(*), count(DISTINCT id), min(peakauditrequestid), "
                       "max(jsonb_array_length(items)) FROM stage.demo_orders")
    assert rows == [(250, 250, run.request_id, 3)]
    types = dict(_rows(dest, "SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'demo_orders'"))
    assert types["items"] == "jsonb" and types["total"] == "double precision"
    assert types["peakauditcreatedat"] == "timestamp with time zone"
    assert dest.last_commit("demo_orders").metadata == ws.feeds.metadata("demo_orders")
    s3 = boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1")
    assert s3.list_objects_v2(Bucket=s3_bucket, Prefix="peak/raw/_peak_staging/").get("KeyCount") == 0
    assert run_feed(ws, "demo_orders").status == "succeeded"  # incremental second run
    assert _rows(dest, "SELECT count(*) FROM stage._peak_commits")[0][0] == 2


def test_schema_evolves_and_rejected_rows_follow_the_threshold(ws, moto_server, s3_bucket,
                                                                redshift_pg) -> None:
    dest = _dest(ws, moto_server, s3_bucket, redshift_pg)
    load = dest.begin("Events", "r1")
    load.write([{"id": 1, "Name": "a"}])
    assert load.commit({"n": 1}) == 1
    load = dest.begin("Events", "r2")
    load.write([{"id": 2, "tags": ["x"], "score": 1}, {"id": 3, "score": 2.5, "name": None}])
    assert load.commit({"n": 2}) == 2
    cols = dest.columns("events")
    assert cols["tags"] == "jsonb" and cols["score"] == "double precision" and cols["name"].startswith(
        "character varying")
    bad = dest.begin("Events", "r3")
    bad.write([{"id": "four"}, {"id": 5}])
    with pytest.raises(DestinationError, match=r"1 of 2 rows .* failed_row_threshold") as e:
        bad.commit({"n": 3})
    bad.abort()
    kept = [orjson.loads(line) for line in open(bad.failed.path, "rb")]
    assert kept == [{"row": 0, "record": {"id": "four"},
                     "reason": 'column id is bigint; value "four" is not a whole number in range'}]
    assert str(bad.failed.path) in e.value.message
    assert dest.find_commit("r3") is None and _rows(dest, "SELECT count(*) FROM stage.events") == [(3,)]
    ok = dest.begin("Events", "r4")
    ok.failed_row_threshold = 0.5
    ok.write([{"id": "four"}, {"id": 5}])
    assert ok.commit({"n": 4}) == 1 and ok.failed_rows == 1
    assert dest.last_commit("Events").metadata == {"n": 4} and dest.last_commit("Events").records == 1


def test_a_committed_request_id_is_never_loaded_again(ws, moto_server, s3_bucket, redshift_pg) -> None:
    dest = _dest(ws, moto_server, s3_bucket, redshift_pg)
    for _ in range(2):  # the second commit of the same run finds its commit row and loads nothing
        load = dest.begin("orders", "same")
        load.write([{"id": 1}, {"id": 2}])
        assert load.commit({"c": 1}) == 2
    assert _rows(dest, "SELECT count(*) FROM stage.orders") == [(2,)]
    load = dest.begin("orders", "other")
    load.write([{"id": 3}])
    load.files.close()
    store = dest.store
    store.put_json(load.manifest_key, {"entries": [{"url": store.url(f.key)} for f in load.files.files]})
    copy = q.copy("orders", ["id", "peakauditcreatedat", "peakauditrequestid"], {"id": "integer"},
                  store.bucket, load.manifest_key, "arn", "us-east-1", dest.executor.literal)
    batch = q.commit_batch(copy, "same", "orders", "{}", 1, "t", dest.executor.literal)
    with pytest.raises(DestinationError):  # the run id is committed already: COPY rolls back too
        dest.executor.transaction(batch)
    assert _rows(dest, "SELECT count(*) FROM stage.orders") == [(2,)]


def _shape(existing: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from peak_tui.destinations.shape import TableShape

    return TableShape(q.DIALECT, existing or {})


def test_new_columns_widen_and_existing_columns_convert_or_reject() -> None:
    from peak_tui.destinations.columns import Reject

    shape = _shape()
    assert shape.fit({"A": 1, "b": None, "c": True}) == {"a": 1, "b": None, "c": True}
    shape.fit({"a": 2.5, "b": "x", "c": 1})
    shape.fit({"a": 3, "d": {"k": [1]}})
    shape.fit({"d": "scalar in a SUPER column"})
    assert shape.new_columns() == [("a", "DOUBLE PRECISION"), ("b", "VARCHAR(65535)"),
                                   ("c", "VARCHAR(65535)"), ("d", "SUPER")]

    table = _shape({"n": "bigint", "t": "character varying(5)", "f": "boolean", "x": "super"})
    assert table.fit({"n": "12", "t": 123, "f": "TRUE", "x": 5}) == {
        "n": 12, "t": "123", "f": True, "x": 5}
    for record, reason in [
        ({"n": "twelve"}, 'column n is bigint; value "twelve" is not a whole number in range'),
        ({"n": 2**63}, "column n is bigint; value 9223372036854775808 is not a whole number"),
        ({"t": "toolong"}, "column t (character varying(5)): text is longer than 5 bytes"),
        ({"f": 1}, "column f is boolean; value 1 is not a boolean"),
        ({"peakauditrequestid": "x"}, "clashes with the audit column peakauditrequestid"),
        ({"Id": 1, "id": 2}, "keys 'Id' and 'id' both map to column id"),
    ]:
        with pytest.raises(Reject) as e:
            table.fit(record)
        assert reason in str(e.value)
    with pytest.raises(Reject):
        table.fit({"brand_new": 1, "n": "bad"})  # a rejected record adds no column
    assert "brand_new" not in dict(table.new_columns())
