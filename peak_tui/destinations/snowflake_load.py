"""One run's load into Snowflake: fit and spill while the script runs; at commit, DDL, staging
with write_pandas, then the data and the commit row in ONE transaction (see snowflake.py).

Chunks are spilled column by column, nested values already as JSON bytes (a str is a string, bytes
are JSON), so staging a chunk is one pickle load and one DataFrame, not a re-parse of every record.
"""
from __future__ import annotations

import pickle
import shutil
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from peak_tui import faults
from peak_tui.destinations import snowflake_sql as q
from peak_tui.destinations.base import Commit, Load
from peak_tui.destinations.failed_rows import FailedRows
from peak_tui.destinations.shape import TableShape, fit_records
from peak_tui.errors import DestinationError

if TYPE_CHECKING:
    from peak_tui.destinations.snowflake import SnowflakeDestination

CHUNK_RECORDS = 100_000
_NESTED = (dict, list)


def snowflake_error(e: BaseException, what: str) -> DestinationError:
    """A readable DestinationError from a connector error."""
    msg = getattr(e, "raw_msg", None) or str(e)
    return DestinationError(f"Snowflake {what}: {msg.strip()}")


class SnowflakeLoad(Load):
    """One run's records, spilled to `<workspace>/staging/snowflake-<request_id>/` until commit."""

    def __init__(self, dest: SnowflakeDestination, feed: str, request_id: str) -> None:
        self.dest = dest
        self.feed = feed
        self.table = feed.upper()
        self.request_id = request_id
        self.conn = dest.connect()
        self.shape = TableShape(q.DIALECT, dest.columns(self.conn, self.table))
        self.table_exists = bool(self.shape.existing)
        self.failed = FailedRows(dest.ws.home, request_id)
        self.failed_rows_path = self.failed.path
        self.dir = dest.ws.home / "staging" / f"snowflake-{request_id}"
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.chunks: list[tuple[str, int]] = []  # (name, records) of the chunks on disk
        self._cols: dict[str, list[Any]] = {}  # the chunk being filled: column -> values
        self._n = 0
        self.count = 0

    def _chunk_name(self, i: int) -> str:
        return f"{self.feed}/{self.request_id}/part-{i:05d}"

    def write(self, records: list[dict[str, Any]]) -> None:
        """Fit and add to the current chunk (columnar; nested values as JSON bytes)."""
        rows = fit_records(self.shape, records, self.failed, self.count, {})
        self.count += len(records)
        while rows:
            if self._n >= CHUNK_RECORDS:
                self._spill()
            take = CHUNK_RECORDS - self._n
            self._append(rows[:take])
            rows = rows[take:]

    def _append(self, rows: list[dict[str, Any]]) -> None:
        n, cols = self._n, self._cols
        for col in set().union(*rows):
            vals = [r.get(col) for r in rows]
            if self.shape.kind(col) == "object":  # only object columns can hold nested values
                vals = [orjson.dumps(v) if v.__class__ in _NESTED else v for v in vals]
            lst = cols.get(col)
            if lst is None:
                lst = cols[col] = [None] * n
            elif len(lst) < n:
                lst.extend([None] * (n - len(lst)))
            lst.extend(vals)
        self._n = n + len(rows)

    def _spill(self) -> None:
        """Write the current chunk to disk (pickle: read back ~10x faster than JSON lines)."""
        if not self._n:
            return
        for lst in self._cols.values():
            lst.extend([None] * (self._n - len(lst)))
        i = len(self.chunks)
        with open(self.dir / f"{i:05d}.pkl", "wb") as f:
            pickle.dump(self._cols, f, protocol=pickle.HIGHEST_PROTOCOL)
        self.chunks.append((self._chunk_name(i), self._n))
        self._cols, self._n = {}, 0

    @property
    def failed_rows(self) -> int:
        """Rows refused because they do not fit the table."""
        return self.failed.count

    def _evolve(self, cur: Any) -> None:
        new = self.shape.new_columns()
        if not self.table_exists:
            cur.execute(q.create_table(self.dest.schema, self.table, new))
            have = self.dest.columns(self.conn, self.table)
            new = [(c, t) for c, t in new if c not in have]
        for col, sql_type in new:
            cur.execute(q.add_column(self.dest.schema, self.table, col, sql_type))

    def _stage(self, cur: Any, staging: str, kinds: dict[str, str]) -> None:
        import snowflake.connector.pandas_tools as pandas_tools

        cols = self.shape.order
        cur.execute(q.create_staging(staging, kinds, cols))
        for i, (name, n) in enumerate(self.chunks):
            with open(self.dir / f"{i:05d}.pkl", "rb") as f:
                data = pickle.load(f)  # our own file, written by _spill for this run
            ok, _, _, _ = pandas_tools.write_pandas(
                self.conn, q.frame(data, n, cols, kinds, name), staging, quote_identifiers=True,
                auto_create_table=False)
            if not ok:
                raise DestinationError(f"Snowflake refused staged chunk {name}")

    def commit(self, metadata: dict[str, Any]) -> int:
        """Stage, then load + commit row in one transaction."""
        from peak_tui.store import now_iso

        self.failed.check(self.count, self.failed_row_threshold)
        self._spill()
        loaded = sum(n for _, n in self.chunks)
        staging = f"_PEAK_LOAD_{self.request_id.upper()}"
        kinds = self.shape.kinds()
        cur = self.conn.cursor()
        try:
            earlier = self.dest._commit("REQUEST_ID", self.request_id, self.conn)
            if earlier is not None:  # already loaded (a retried commit): never load twice
                return self._close(earlier)
            self._evolve(cur)
            if loaded:
                self._stage(cur, staging, kinds)
            faults.point("snowflake.staged")
            created = datetime.now(UTC).isoformat(timespec="microseconds")
            cur.execute("BEGIN")
            try:
                done = cur.execute(q.select_commit(self.dest.schema, "REQUEST_ID"),
                                   (self.request_id,)).fetchone()
                if done is None:
                    if loaded:
                        cur.execute(q.insert_from_staging(self.dest.schema, self.table, staging,
                                                          self.shape.order, kinds),
                                    (created, self.request_id))
                    cur.execute(q.insert_commit(self.dest.schema),
                                (self.request_id, self.feed, orjson.dumps(metadata).decode(), loaded,
                                 now_iso(), self.feed))
                faults.point("snowflake.inside_transaction")
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            faults.point("snowflake.after_commit")
            if done is not None:
                loaded = int(done[3])
        except DestinationError:
            raise
        except Exception as e:
            raise snowflake_error(e, f"load of {self.dest.schema}.{self.table}") from None
        self._close(None)
        return loaded

    def _close(self, commit: Commit | None) -> int:
        try:
            self.conn.close()  # drops the temporary staging table
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
        return commit.records if commit else 0

    def abort(self) -> None:
        """Drop the spilled chunks; Snowflake never saw them."""
        self.failed.close()
        self._cols, self._n = {}, 0
        self._close(None)
