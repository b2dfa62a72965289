"""The Redshift destination: stage a run's records in S3, then COPY them into `stage.<feed>` and
write the run's commit row in ONE transaction (Data API `batch_execute_statement`).

Records are checked against the table as they arrive: new keys become columns (nested values as
SUPER), values that cannot fit an existing column are failed rows. Columns are added before the
load transaction, each on its own (schema changes are idempotent and harmless if the load later
fails). A commit whose request id is already in `stage._peak_commits` is never loaded again.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from peak_tui import faults
from peak_tui.destinations import FACTORIES
from peak_tui.destinations import redshift_sql as q
from peak_tui.destinations.base import AUDIT_CREATED_AT, AUDIT_REQUEST_ID, Commit, Destination, Load
from peak_tui.destinations.failed_rows import FailedRows
from peak_tui.destinations.redshift_exec import DataAPIExecutor, Executor
from peak_tui.destinations.s3_store import S3Store, aws_error
from peak_tui.destinations.s3_writer import PartFiles, abort_stale_uploads, delete_keys
from peak_tui.destinations.shape import TableShape, fit_records
from peak_tui.errors import DestinationError

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

# Tests point this at a PostgresExecutor; None means the Redshift Data API.
EXECUTOR_FACTORY: Callable[[dict[str, str], S3Store], Executor] | None = None


class RedshiftDestination(Destination):
    """Tables in schema `stage` of the configured database, staged through the data-lake bucket."""

    kind = "redshift"

    def __init__(self, ws: Workspace, values: dict[str, str], executor: Executor | None = None,
                 client: Any = None) -> None:
        self.ws = ws
        self.values = values
        self.store = S3Store(values, client)
        self._executor = executor
        self._ready = False

    @property
    def executor(self) -> Executor:
        """Where the SQL runs."""
        if self._executor is None:
            make = EXECUTOR_FACTORY
            self._executor = make(self.values, self.store) if make else DataAPIExecutor(self.values)
        return self._executor

    def ensure_ready(self) -> None:
        """The schema and the commit table exist (one transaction, once per destination object)."""
        if not self._ready:
            self.executor.transaction(q.Batch([q.create_schema(), q.create_commits()]))
            self._ready = True

    def columns(self, name: str) -> dict[str, str]:
        """An existing table's columns and types ({} when there is no table yet)."""
        ex = self.executor
        rows = ex.query(q.columns_query(ex.columns_view, name, ex.literal))
        return {r[0]: f"{r[1]}({r[2]})" if r[2] else str(r[1]) for r in rows}

    def begin(self, feed: str, request_id: str) -> RedshiftLoad:
        """Start staging a run."""
        self.ensure_ready()
        return RedshiftLoad(self, feed, request_id)

    def _commit(self, column: str, value: str) -> Commit | None:
        self.ensure_ready()
        ex = self.executor
        rows = ex.query(q.select_commit(column, value, ex.literal))
        if not rows:
            return None
        r = rows[0]
        return Commit(str(r[0]), str(r[1]), orjson.loads(r[2]), int(r[3]), str(r[4]))

    def last_commit(self, feed: str) -> Commit | None:
        """The feed's newest commit row."""
        return self._commit("feed", feed)

    def find_commit(self, request_id: str) -> Commit | None:
        """The run's commit row."""
        return self._commit("request_id", request_id)

    def check(self) -> str:
        """Prove the staging bucket is writable, then query the database."""
        s3 = self.store.check()
        rows = self.executor.query("SELECT current_user, current_database()")
        user, db = rows[0] if rows else ("?", "?")
        where = self.values.get("workgroup") or self.values.get("cluster_id")
        return f"Redshift {where}: connected to database {db} as {user}; {s3}"


class RedshiftLoad(Load):
    """One run: fitted records staged as gzip JSON lines under `_peak_staging/<feed>/<run>/`."""

    def __init__(self, dest: RedshiftDestination, feed: str, request_id: str) -> None:
        self.dest = dest
        self.feed = feed
        self.table = q.table_name(feed)
        self.request_id = request_id
        existing = dest.columns(self.table)
        self.table_exists = bool(existing)
        self.shape = TableShape(q.DIALECT, existing)
        self.failed = FailedRows(dest.ws.home, request_id)
        self.failed_rows_path = self.failed.path
        self.created_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.count = 0
        store = dest.store
        self.staging = store.key("_peak_staging", feed, request_id) + "/"
        self.manifest_key = self.staging + "copy.manifest"
        abort_stale_uploads(store.client, store.bucket, store.key("_peak_staging", feed) + "/",
                            keep=self.staging)
        self.files = PartFiles(store.client, store.bucket, self.staging)

    def write(self, records: list[dict[str, Any]]) -> None:
        """Fit each record to the table and stage the ones that fit."""
        audit = {AUDIT_CREATED_AT: self.created_at, AUDIT_REQUEST_ID: self.request_id}
        rows = fit_records(self.shape, records, self.failed, self.count, audit)
        self.count += len(records)
        try:
            self.files.write(rows)
        except Exception as e:
            raise aws_error(e, f"staging to {self.dest.store.url(self.staging)}") from None

    @property
    def failed_rows(self) -> int:
        """Rows refused because they do not fit the table."""
        return self.failed.count

    def _evolve(self) -> None:
        ex = self.dest.executor
        new = self.shape.new_columns()
        if not self.table_exists:
            ex.execute(q.create_table(self.table, new))
            have = self.dest.columns(self.table)  # it may have existed after all (created meanwhile)
            new = [(c, t) for c, t in new if c not in have]
            if not new:
                return
        for col, sql_type in new:
            ex.execute(q.add_column(self.table, col, sql_type))

    def commit(self, metadata: dict[str, Any]) -> int:
        """COPY the staged files and write the commit row in one transaction."""
        from peak_tui.store import now_iso

        self.failed.check(self.count, self.failed_row_threshold)
        meta = orjson.dumps(metadata).decode()
        if len(meta.encode()) > q.MAX_METADATA_BYTES:
            raise DestinationError(f"the feed's metadata is {len(meta.encode()):,} bytes; Redshift's "
                                   f"commit log holds at most {q.MAX_METADATA_BYTES:,}")
        store, ex = self.dest.store, self.dest.executor
        try:
            files = self.files.close()
            if files:
                entries = [{"url": store.url(f.key), "mandatory": True,
                            "meta": {"content_length": f.bytes}} for f in files]
                store.put_json(self.manifest_key, {"entries": entries})
        except DestinationError:
            raise
        except Exception as e:
            raise aws_error(e, f"staging to {store.url(self.staging)}") from None
        done = self.dest.find_commit(self.request_id)
        if done is not None:  # already loaded (a retried commit): never load twice
            self._cleanup()
            return done.records
        loaded = sum(f.records for f in files)
        self._evolve()
        copy = None
        if files:
            cols = [*self.shape.order, AUDIT_CREATED_AT, AUDIT_REQUEST_ID]
            kinds = {**self.shape.kinds(), AUDIT_CREATED_AT: "other", AUDIT_REQUEST_ID: "string"}
            copy = q.copy(self.table, cols, kinds, store.bucket, self.manifest_key,
                          self.dest.values["iam_role"], self.dest.values["region"], ex.literal)
        faults.point("redshift.before_transaction")
        ex.transaction(q.commit_batch(copy, self.request_id, self.feed, meta, loaded, now_iso(),
                                      ex.literal))
        faults.point("redshift.after_transaction")
        self._cleanup()
        return loaded

    def _cleanup(self) -> None:
        """Staged files are not needed once loaded (best effort)."""
        store = self.dest.store
        delete_keys(store.client, store.bucket, [f.key for f in self.files.files] + [self.manifest_key])

    def abort(self) -> None:
        """Delete the staged files; the table never saw them."""
        self.failed.close()
        self.files.abort()
        delete_keys(self.dest.store.client, self.dest.store.bucket, [self.manifest_key])


def factory(ws: Workspace, dest: dict[str, Any]) -> RedshiftDestination:
    """Build the Redshift destination from the workspace's settings."""
    from peak_tui.warehouse import settings

    return RedshiftDestination(ws, settings(ws, "redshift"))


FACTORIES["redshift"] = factory
