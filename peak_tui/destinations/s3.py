"""The S3 destination: each run's records as gzip JSON-lines files, committed by one manifest.

Layout under `s3://<bucket>/<prefix>/`:
  <feed>/date=YYYY-MM-DD/run=<request_id>/part-00000.jsonl.gz ...   the run's files
  <feed>/date=YYYY-MM-DD/run=<request_id>/_manifest.json           copy of the commit, for browsing
  _peak_commits/<feed>/<inverted ms>-<request_id>.json             THE commit (manifest + metadata)
  _peak_commits/_runs/<request_id>.json                            where a run will commit
A run is committed exactly when its object under `_peak_commits/<feed>/` exists: one PUT, written
after every file is complete. Readers take the file list from commits, never from listing folders;
a run that failed or died leaves no commit, so its stray files are invisible. Inverted timestamps make
the newest commit the first key listed, so `last_commit` is one LIST + one GET.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from peak_tui import faults
from peak_tui.destinations import FACTORIES
from peak_tui.destinations.base import Commit, Destination, Load
from peak_tui.destinations.s3_store import S3Store, aws_error
from peak_tui.destinations.s3_writer import (
    DEFAULT_PART,
    DEFAULT_ROTATE,
    PartFiles,
    abort_stale_uploads,
    delete_keys,
)
from peak_tui.errors import DestinationError

if TYPE_CHECKING:
    from peak_tui.workspace import Workspace

INVERT = 10**15


def _commit_of(doc: dict[str, Any]) -> Commit:
    return Commit(doc["request_id"], doc["feed"], doc["metadata"], doc["records"], doc["committed_at"])


class S3Destination(Destination):
    """The data lake: the bucket and prefix of the workspace's Redshift settings."""

    kind = "s3"
    part_bytes = DEFAULT_PART  # multipart part size (S3's minimum is 5 MiB)
    rotate_bytes = DEFAULT_ROTATE  # a new file after this many compressed bytes

    def __init__(self, ws: Workspace, values: dict[str, str], client: Any = None) -> None:
        self.ws = ws
        self.store = S3Store(values, client)

    def begin(self, feed: str, request_id: str) -> S3Load:
        """Announce where the run will commit, then stream its files."""
        self._repair_browse_copy(feed)
        return S3Load(self, feed, request_id)

    def _repair_browse_copy(self, feed: str) -> None:
        """A run killed between its commit and the browsing copy of its manifest gets the copy now."""
        doc = self._last_doc(feed)
        if not doc:
            return
        key = doc["run_dir"].removeprefix(f"s3://{self.store.bucket}/") + "_manifest.json"
        if self.store.get_json(key) is None:
            self.store.put_json(key, doc)

    def _intent_key(self, request_id: str) -> str:
        return self.store.key("_peak_commits", "_runs", f"{request_id}.json")

    def last_commit(self, feed: str) -> Commit | None:
        """The first key under the feed's commit folder is the newest commit."""
        doc = self._last_doc(feed)
        return _commit_of(doc) if doc else None

    def _last_doc(self, feed: str) -> dict[str, Any] | None:
        prefix = self.store.key("_peak_commits", feed) + "/"
        try:
            resp = self.store.client.list_objects_v2(Bucket=self.store.bucket, Prefix=prefix, MaxKeys=1)
        except Exception as e:
            raise aws_error(e, f"listing {self.store.url(prefix)}") from None
        items = resp.get("Contents", [])
        return self.store.get_json(items[0]["Key"]) if items else None

    def find_commit(self, request_id: str) -> Commit | None:
        """The run's commit, found through the run's intent record."""
        intent = self.store.get_json(self._intent_key(request_id))
        if not intent:
            return None
        doc = self.store.get_json(intent["commit_key"])
        return _commit_of(doc) if doc else None

    def manifest(self, request_id: str) -> dict[str, Any] | None:
        """The full commit document (files, counts, metadata) of a committed run."""
        intent = self.store.get_json(self._intent_key(request_id))
        return self.store.get_json(intent["commit_key"]) if intent else None

    def check(self) -> str:
        """Test that the bucket is reachable and writable."""
        return self.store.check()


class S3Load(Load):
    """One run's files; the commit object makes them visible."""

    def __init__(self, dest: S3Destination, feed: str, request_id: str) -> None:
        self.dest = dest
        self.store = dest.store
        self.feed = feed
        self.request_id = request_id
        now = datetime.now(UTC)
        self.run_dir = self.store.key(feed, f"date={now:%Y-%m-%d}", f"run={request_id}") + "/"
        inverted = INVERT - int(now.timestamp() * 1000)
        self.commit_key = self.store.key("_peak_commits", feed, f"{inverted:015d}-{request_id}.json")
        if dest.find_commit(request_id) is not None:
            raise DestinationError(f"run {request_id} was already committed")
        self.store.put_json(dest._intent_key(request_id),
                            {"feed": feed, "commit_key": self.commit_key, "run_dir": self.run_dir,
                             "started_at": now.isoformat()})
        abort_stale_uploads(self.store.client, self.store.bucket, self.store.key(feed) + "/",
                            keep=self.run_dir)
        self.files = PartFiles(self.store.client, self.store.bucket, self.run_dir,
                               part_bytes=dest.part_bytes, rotate_bytes=dest.rotate_bytes)
        self._attempted = False

    def write(self, records: list[dict[str, Any]]) -> None:
        """Compress and upload as the files fill."""
        try:
            self.files.write(records)
        except Exception as e:
            raise aws_error(e, f"writing {self.store.url(self.run_dir)}") from None

    def commit(self, metadata: dict[str, Any]) -> int:
        """Complete the files, then write the commit (the one step that makes the run visible)."""
        from peak_tui.store import now_iso

        try:
            files = self.files.close()
        except Exception as e:
            raise aws_error(e, f"writing {self.store.url(self.run_dir)}") from None
        faults.point("s3.files_written")
        records = sum(f.records for f in files)
        doc = {
            "version": 1, "feed": self.feed, "request_id": self.request_id, "committed_at": now_iso(),
            "metadata": metadata, "records": records, "format": "jsonl.gz",
            "bytes": sum(f.bytes for f in files),
            "uncompressed_bytes": sum(f.uncompressed_bytes for f in files),
            "run_dir": self.store.url(self.run_dir),
            "files": [f.to_dict(self.store.bucket) for f in files],
        }
        self._attempted = True
        try:
            self.store.put_json(self.commit_key, doc)
        except DestinationError:
            # The PUT may have landed even though its answer was lost: the object decides.
            if self.store.get_json(self.commit_key) is None:
                raise
        faults.point("s3.after_commit_object")
        try:  # a browsing copy; the commit above is what counts
            self.store.put_json(self.run_dir + "_manifest.json", doc)
        except DestinationError:
            pass
        return records

    def abort(self) -> None:
        """Delete the run's files and its intent (best effort); never those of a commit."""
        if self._attempted:
            try:
                if self.store.get_json(self.commit_key) is not None:
                    return
            except DestinationError:
                return  # unknown: leave the files; without a commit they are invisible anyway
        self.files.abort()
        delete_keys(self.store.client, self.store.bucket, [self.dest._intent_key(self.request_id)])


def factory(ws: Workspace, dest: dict[str, Any]) -> S3Destination:
    """Build the S3 destination from the workspace's Redshift (+ S3) settings."""
    from peak_tui.warehouse import settings

    return S3Destination(ws, settings(ws, "redshift"))


FACTORIES["s3"] = factory
