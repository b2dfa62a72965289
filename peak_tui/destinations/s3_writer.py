"""Stream records to S3 as gzip JSON-lines files in bounded memory.

Compressed bytes collect in a buffer; once it holds a part's worth (>= 5 MiB, S3's multipart minimum)
it is uploaded as the next part of a multipart upload, and once a file reaches `rotate_bytes`
compressed it is completed and the next file starts. A file that never fills a part is one
`put_object`. `abort` aborts the open upload and deletes the files already completed.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import orjson

MIN_PART = 5 * 1024 * 1024
DEFAULT_PART = 8 * 1024 * 1024
DEFAULT_ROTATE = 128 * 1024 * 1024
LEVEL = 3  # gzip level: ~3x faster than the default 6 on JSON for ~10% larger files


@dataclass
class FileInfo:
    """One completed file: its key, how many records, compressed and raw bytes."""

    key: str
    records: int
    bytes: int
    uncompressed_bytes: int

    def to_dict(self, bucket: str) -> dict[str, Any]:
        """As listed in a manifest."""
        return {"key": self.key, "url": f"s3://{bucket}/{self.key}", "records": self.records,
                "bytes": self.bytes, "uncompressed_bytes": self.uncompressed_bytes}


def encode(records: list[dict[str, Any]]) -> bytearray:
    """Records as JSON lines. Appending each line to one buffer frees every `dumps` result at once,
    which measured ~5x faster than joining a list of them (allocator churn)."""
    out = bytearray()
    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    for r in records:
        out += dumps(r, option=newline)
    return out


class PartFiles:
    """The gzip JSON-lines files of one run under `<key_prefix>part-NNNNN.jsonl.gz`."""

    def __init__(self, client: Any, bucket: str, key_prefix: str, *, part_bytes: int = DEFAULT_PART,
                 rotate_bytes: int = DEFAULT_ROTATE, level: int = LEVEL) -> None:
        self.client = client
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.part_bytes = max(part_bytes, MIN_PART)
        self.rotate_bytes = max(rotate_bytes, self.part_bytes)
        self.level = level
        self.files: list[FileInfo] = []
        self._open = False
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._buf = bytearray()
        self._z: Any = None
        self._records = self._raw = self._sent = 0

    @property
    def key(self) -> str:
        """The key of the file being written."""
        return f"{self.key_prefix}part-{len(self.files):05d}.jsonl.gz"

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records to the current file."""
        if records:
            self.write_lines(encode(records), len(records))

    def write_lines(self, data: bytes | bytearray, count: int) -> None:
        """Append already-encoded JSON lines (`count` records)."""
        if not self._open:
            self._z = zlib.compressobj(self.level, zlib.DEFLATED, 31)
            self._open = True
        self._buf += self._z.compress(data)
        self._records += count
        self._raw += len(data)
        if len(self._buf) >= self.part_bytes:
            self._upload_part(final=False)
        if self._sent + len(self._buf) >= self.rotate_bytes:
            self._finish_file()

    def _upload_part(self, *, final: bool) -> None:
        if self._upload_id is None:
            self._upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType="application/gzip")["UploadId"]
        number = len(self._parts) + 1
        body = bytes(self._buf)
        resp = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                       PartNumber=number, Body=body)
        self._parts.append({"PartNumber": number, "ETag": resp["ETag"]})
        self._sent += len(body)
        self._buf.clear()

    def _finish_file(self) -> None:
        self._buf += self._z.flush()
        size = self._sent + len(self._buf)
        if self._upload_id is not None:
            self._upload_part(final=True)
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts})
        else:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self._buf),
                                   ContentType="application/gzip")
        self.files.append(FileInfo(self.key, self._records, size, self._raw))
        self._buf.clear()
        self._open = False
        self._upload_id, self._parts = None, []
        self._records = self._raw = self._sent = 0

    def close(self) -> list[FileInfo]:
        """Complete the current file; returns every file written."""
        if self._open and self._records:
            self._finish_file()
        return self.files

    @property
    def records(self) -> int:
        """Records written so far."""
        return sum(f.records for f in self.files) + self._records

    def abort(self) -> None:
        """Abort the open upload and delete completed files (best effort)."""
        if self._upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                   UploadId=self._upload_id)
            except Exception:  # best effort: a lifecycle rule cleans what this misses
                pass
            self._upload_id = None
        self._buf.clear()
        self._open = False
        delete_keys(self.client, self.bucket, [f.key for f in self.files])
        self.files = []


def delete_keys(client: Any, bucket: str, keys: list[str]) -> None:
    """Delete objects in batches of 1000 (best effort)."""
    for i in range(0, len(keys), 1000):
        chunk = keys[i:i + 1000]
        try:
            client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk],
                                                         "Quiet": True})
        except Exception:  # best effort: files without a manifest are invisible to readers
            pass


def abort_stale_uploads(client: Any, bucket: str, prefix: str, keep: str = "") -> int:
    """Abort multipart uploads under a prefix left by runs that died (all but keys under `keep`)."""
    aborted = 0
    try:
        resp = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    except Exception:
        return 0
    for up in resp.get("Uploads", []):
        if keep and up["Key"].startswith(keep):
            continue
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=up["Key"], UploadId=up["UploadId"])
            aborted += 1
        except Exception:
            pass
    return aborted
