"""Benchmark: a million records through the S3 (moto), Snowflake (fakesnow) and Redshift (PostgreSQL)
destinations, each against a baseline measured in the same run:

- S3: the destination (JSON lines + gzip + multipart upload + manifest) vs a raw `put_object` of the
  same compressed bytes;
- Snowflake: the destination (fit + spill + write_pandas to staging + INSERT ... PARSE_JSON + commit
  row) vs one `write_pandas` of the same rows, already in a DataFrame;
- Redshift via PostgreSQL: the destination (fit + stage to S3 + COPY stand-in + commit row) vs a
  `COPY FROM STDIN` of the same rows, already as tuples.

Run: .venv/bin/python bench/bench_warehouses.py [--records N] [--only s3,snowflake,redshift]
"""
from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson  # noqa: E402

from tests.services import MotoServer, PostgresCluster  # noqa: E402

BATCH = 10_000
NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled"]


def make_records(n: int) -> list[list[dict[str, Any]]]:
    """n demo-order-like records (nested customer and items), in batches as the engine passes them."""
    out = []
    for start in range(0, n, BATCH):
        out.append([{"id": i, "customer": {"name": NAMES[i % 5], "email": f"user{i}@example.com"},
                     "items": [{"sku": f"SKU-{i % 6}00", "quantity": i % 4 + 1, "unit_price": 19.5}],
                     "total": round((i % 1000) * 1.37, 2), "status": STATUSES[i % 5],
                     "updated_at": f"2026-01-{i % 28 + 1:02d}T00:00:00Z"}
                    for i in range(start, min(start + BATCH, n))])
    return out


PHASES: dict[str, float] = {}


def load(dest: Any, batches: list[list[dict[str, Any]]]) -> tuple[float, Any]:
    """Seconds from begin to committed, and the load; PHASES gets the write/commit split."""
    t0 = time.perf_counter()
    ld = dest.begin("bench", uuid.uuid4().hex)
    for batch in batches:
        ld.write(batch)
    t1 = time.perf_counter()
    ld.commit({"cursor": "end"})
    t2 = time.perf_counter()
    PHASES.update(write=t1 - t0, commit=t2 - t1)
    return t2 - t0, ld


def phases() -> str:
    """The last load's split between writing (while the script runs) and committing."""
    return f"(begin + write {PHASES['write']:.2f} s, commit {PHASES['commit']:.2f} s)"


def bench_s3(ws: Any, values: dict[str, str], batches: list[list[dict[str, Any]]], n: int) -> None:
    """The S3 path vs raw put_object of the same bytes."""
    from peak_tui.destinations.s3 import S3Destination

    dest = S3Destination(ws, values)
    secs, ld = load(dest, batches)
    split = phases()
    manifest = dest.manifest(ld.request_id)
    raw, gz = manifest["uncompressed_bytes"], manifest["bytes"]
    client = dest.store.client
    blobs = [client.get_object(Bucket=values["bucket"], Key=f["key"])["Body"].read()
             for f in manifest["files"]]
    t0 = time.perf_counter()
    for i, blob in enumerate(blobs):
        client.put_object(Bucket=values["bucket"], Key=f"baseline/{i}", Body=blob)
    put = time.perf_counter() - t0
    plain = b"".join(gzip.decompress(blob) for blob in blobs)
    t0 = time.perf_counter()
    client.put_object(Bucket=values["bucket"], Key="baseline/plain.jsonl", Body=plain)
    put_plain = time.perf_counter() - t0
    assert manifest["records"] == n
    print(f"S3 destination: {secs:.2f} s, {n / secs:,.0f} records/s, {raw / secs / 1e6:.1f} MB/s of "
          f"JSON ({gz / secs / 1e6:.1f} MB/s gzip on the wire), {len(manifest['files'])} file(s), "
          f"{gz / 1e6:.1f} MB gzip from {raw / 1e6:.1f} MB {split}")
    print(f"  baseline raw put_object of the same {gz / 1e6:.1f} MB: {put:.2f} s, "
          f"{gz / put / 1e6:.1f} MB/s; destination/baseline time: {secs / put:.1f}x")
    print(f"  baseline raw put_object of the uncompressed {raw / 1e6:.1f} MB: {put_plain:.2f} s, "
          f"{raw / put_plain / 1e6:.1f} MB/s; destination/baseline time: {secs / put_plain:.1f}x")


def bench_snowflake(ws: Any, batches: list[list[dict[str, Any]]], n: int) -> None:
    """Snowflake via fakesnow vs one write_pandas of the same rows."""
    import fakesnow
    import pandas as pd

    from peak_tui.destinations.snowflake import SnowflakeDestination
    from peak_tui.warehouse_rules import validate

    values = validate("snowflake", {"account": "bench", "user": "u", "password": "p", "warehouse": "W",
                                    "database": "BENCH"})
    with warnings.catch_warnings(), fakesnow.patch():
        warnings.simplefilter("ignore")
        import snowflake.connector.pandas_tools as pandas_tools

        dest = SnowflakeDestination(ws, values)
        secs, _ = load(dest, batches)
        conn = dest.connect()
        cur = conn.cursor()
        assert cur.execute('SELECT COUNT(*) FROM "STAGE"."BENCH"').fetchone()[0] == n
        rows = [r for b in batches for r in b]
        df = pd.DataFrame({"ID": [r["id"] for r in rows],
                           "CUSTOMER": [orjson.dumps(r["customer"]).decode() for r in rows],
                           "ITEMS": [orjson.dumps(r["items"]).decode() for r in rows],
                           "TOTAL": [r["total"] for r in rows], "STATUS": [r["status"] for r in rows],
                           "UPDATED_AT": [r["updated_at"] for r in rows]})
        t0 = time.perf_counter()
        pandas_tools.write_pandas(conn, df, "BASELINE", auto_create_table=True, quote_identifiers=True)
        base = time.perf_counter() - t0
        conn.close()
    print(f"Snowflake destination (fakesnow): {secs:.2f} s, {n / secs:,.0f} records/s {phases()}")
    print(f"  baseline one write_pandas of a ready DataFrame: {base:.2f} s, {n / base:,.0f} records/s; "
          f"destination/baseline time: {secs / base:.1f}x")


def bench_redshift(ws: Any, values: dict[str, str], batches: list[list[dict[str, Any]]],
                   n: int) -> None:
    """Redshift through PostgreSQL vs a COPY FROM STDIN of the same rows."""
    from peak_tui.destinations import redshift
    from peak_tui.destinations.redshift_exec import PostgresExecutor

    cluster = PostgresCluster().start()
    try:
        db = cluster.create_database("bench")
        redshift.EXECUTOR_FACTORY = lambda v, s: PostgresExecutor(cluster.conninfo(db), s)
        dest = redshift.RedshiftDestination(ws, {**values, "database": db})
        secs, _ = load(dest, batches)
        split = phases()
        assert dest.executor.query("SELECT count(*) FROM stage.bench") == [(n,)]
        import psycopg

        rows = [(r["id"], orjson.dumps(r["customer"]).decode(), orjson.dumps(r["items"]).decode(),
                 r["total"], r["status"], r["updated_at"]) for b in batches for r in b]
        with psycopg.connect(cluster.conninfo(db), autocommit=True) as conn:
            conn.execute("CREATE TABLE baseline (id bigint, customer jsonb, items jsonb, "
                         "total double precision, status varchar(65535), updated_at varchar(65535))")
            t0 = time.perf_counter()
            with conn.cursor() as cur, cur.copy("COPY baseline FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            base = time.perf_counter() - t0
    finally:
        cluster.stop()
    print(f"Redshift destination via PostgreSQL: {secs:.2f} s, {n / secs:,.0f} records/s {split}; "
          "the commit is PostgresExecutor's stand-in for Redshift's COPY")
    print(f"  baseline COPY FROM STDIN of ready tuples: {base:.2f} s, {n / base:,.0f} records/s; "
          f"destination/baseline time: {secs / base:.1f}x")


def main() -> int:
    """Generate the records once, then run the chosen paths."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--only", default="s3,snowflake,redshift")
    args = ap.parse_args()
    chosen = set(args.only.split(","))
    os.environ.update(PEAK_TUI_KEYRING="0", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_DEFAULT_REGION="us-east-1")
    t0 = time.perf_counter()
    batches = make_records(args.records)
    print(f"{args.records:,} records generated in {time.perf_counter() - t0:.1f} s (not timed below)")
    moto = MotoServer().start()
    try:
        import boto3

        from peak_tui.workspace import Workspace

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=moto.url).create_bucket(Bucket=bucket)
        values = {"cluster_id": "bench", "database": "dev", "db_user": "u", "region": "us-east-1",
                  "iam_role": "arn:aws:iam::123456789012:role/bench", "bucket": bucket,
                  "prefix": "bench", "endpoint_url": moto.url}
        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.open(Path(tmp) / "ws")
            if "s3" in chosen:
                bench_s3(ws, values, batches, args.records)
            if "snowflake" in chosen:
                bench_snowflake(ws, batches, args.records)
            if "redshift" in chosen:
                bench_redshift(ws, values, batches, args.records)
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
