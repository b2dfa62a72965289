"""The S3 destination against moto's S3 server: layout, manifests as the commit, multipart streaming,
file rotation, cleanup of failed runs, and a full `run_feed` of the demo feed."""
from __future__ import annotations

import gzip
import os

import boto3
import orjson
import pytest

from peak_tui import warehouse
from peak_tui.destinations.s3 import S3Destination
from peak_tui.destinations.s3_writer import MIN_PART
from peak_tui.errors import DestinationError
from peak_tui.execution import run_feed
from tests.services import redshift_values


def _client(moto):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=moto.url, region_name="us-east-1")


def _keys(moto, bucket: str, prefix: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    pages = _client(moto).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []))


def _read_records(moto, bucket: str, manifest: dict) -> list[dict]:  # type: ignore[no-untyped-def]
    out = []
    for f in manifest["files"]:
        body = _client(moto).get_object(Bucket=bucket, Key=f["key"])["Body"].read()
        lines = gzip.decompress(body).splitlines()
        assert len(lines) == f["records"]
        out += [orjson.loads(line) for line in lines]
    return out


def test_demo_feed_runs_into_s3_with_manifest_as_commit(demo_ws, moto_server, s3_bucket) -> None:
    ws = demo_ws
    warehouse.save(ws, "redshift", redshift_values(moto_server, s3_bucket))
    feed = ws.feeds.get("demo_orders")
    feed.destination = {"type": "s3"}
    ws.feeds.save(feed)

    run = run_feed(ws, "demo_orders")
    assert run.status == "succeeded", run.error
    assert run.records == 250
    keys = _keys(moto_server, s3_bucket, "peak/raw/demo_orders/")
    run_dir = [k for k in keys if k.endswith("_manifest.json")][0].rsplit("/", 1)[0]
    assert run_dir.split("/")[3].startswith("date=") and run_dir.endswith(f"run={run.request_id}")
    assert f"{run_dir}/part-00000.jsonl.gz" in keys

    dest = ws.destination(feed.destination)
    manifest = dest.manifest(run.request_id)
    assert manifest["records"] == 250 and manifest["metadata"] == ws.feeds.metadata("demo_orders")
    records = _read_records(moto_server, s3_bucket, manifest)
    assert sorted(r["id"] for r in records) == list(range(1, 251))
    assert isinstance(records[0]["items"], list)  # nested values stay nested JSON
    assert dest.last_commit("demo_orders").request_id == run.request_id

    again = run_feed(ws, "demo_orders")  # incremental: only what changed since the cursor
    assert again.status == "succeeded", again.error
    assert dest.last_commit("demo_orders").request_id == again.request_id
    assert dest.find_commit(run.request_id).records == 250


def test_large_run_streams_multipart_and_rotates_files(ws, moto_server, s3_bucket) -> None:
    dest = S3Destination(ws, redshift_values(moto_server, s3_bucket))
    dest.part_bytes, dest.rotate_bytes = MIN_PART, MIN_PART
    load = dest.begin("big", "r1")
    sent = []
    for b in range(24):  # ~13 MB of incompressible hex -> ~7 MB gzip per 12 batches
        batch = [{"id": b * 500 + i, "blob": os.urandom(512).hex()} for i in range(500)]
        load.write(batch)
        sent += [r["id"] for r in batch]
        assert len(load.files._buf) < MIN_PART + 1_000_000  # bounded memory: parts leave as they fill
    assert load.commit({"cursor": 1}) == len(sent)

    manifest = dest.manifest("r1")
    assert len(manifest["files"]) >= 2, "rotation should have started a second file"
    etags = [_client(moto_server).head_object(Bucket=s3_bucket, Key=f["key"])["ETag"]
             for f in manifest["files"]]
    assert any("-" in e for e in etags), "a file larger than a part is a multipart upload"
    assert [r["id"] for r in _read_records(moto_server, s3_bucket, manifest)] == sent
    assert manifest["bytes"] == sum(f["bytes"] for f in manifest["files"])
    assert manifest["uncompressed_bytes"] > manifest["bytes"]


def test_failed_run_leaves_no_manifest_no_files_no_uploads(ws, moto_server, s3_bucket) -> None:
    dest = S3Destination(ws, redshift_values(moto_server, s3_bucket))
    dest.part_bytes, dest.rotate_bytes = MIN_PART, MIN_PART * 6 // 5
    load = dest.begin("feed", "dead1")
    while not (load.files.files and load.files._upload_id):  # a complete file + an open upload
        load.write([{"blob": os.urandom(512).hex()} for _ in range(1000)])
        assert load.files.records < 40_000
    load.abort()
    assert _keys(moto_server, s3_bucket, "peak/raw/feed/") == []
    assert _client(moto_server).list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
    assert dest.find_commit("dead1") is None and dest.last_commit("feed") is None


def test_next_run_aborts_uploads_left_by_a_dead_run(ws, moto_server, s3_bucket) -> None:
    dest = S3Destination(ws, redshift_values(moto_server, s3_bucket))
    dest.part_bytes = MIN_PART
    dead = dest.begin("feed", "dead")
    dead.write([{"blob": os.urandom(512).hex()} for _ in range(11000)])
    assert dead.files._upload_id  # the process "dies" here: no abort
    dest.begin("feed", "next").write([{"a": 1}])
    assert _client(moto_server).list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []


def test_commit_log_orders_runs_and_refuses_a_reused_request_id(ws, moto_server, s3_bucket) -> None:
    dest = S3Destination(ws, redshift_values(moto_server, s3_bucket))
    for i, rid in enumerate(["a1", "b2", "c3"]):
        load = dest.begin("orders", rid)
        load.write([{"n": i}])
        load.commit({"cursor": i})
    assert dest.last_commit("orders").request_id == "c3"
    assert dest.last_commit("orders").metadata == {"cursor": 2}
    assert dest.find_commit("a1").metadata == {"cursor": 0}
    assert dest.last_commit("orders_v2") is None  # a feed whose name extends another's
    with pytest.raises(DestinationError, match="already committed"):
        dest.begin("orders", "b2")
    empty = dest.begin("orders", "d4")
    assert empty.commit({"cursor": 3}) == 0
    assert dest.manifest("d4")["files"] == [] and dest.last_commit("orders").request_id == "d4"


def test_check_gives_a_verdict_and_the_cause(ws, moto_server, s3_bucket) -> None:
    ok = S3Destination(ws, redshift_values(moto_server, s3_bucket)).check()
    assert s3_bucket in ok and "writable" in ok
    with pytest.raises(DestinationError, match="404|NoSuchBucket|Not Found"):
        S3Destination(ws, redshift_values(moto_server, "no-such-bucket-x")).check()
    values = redshift_values(moto_server, s3_bucket)
    values["endpoint_url"] = "http://127.0.0.1:9"
    with pytest.raises(DestinationError, match="cannot reach the endpoint"):
        S3Destination(ws, values).check()
