"""A bucket and key prefix reached through boto3: clients (cached), JSON objects, readable errors."""
from __future__ import annotations

import functools
import os
import uuid
from typing import Any

import orjson

from peak_tui.errors import DestinationError


def s3_client(values: dict[str, str], attempts: int = 5, connect_timeout: int = 10) -> Any:
    """A boto3 S3 client from the warehouse settings (credentials from the standard AWS chain).

    Clients are cached per settings: making one costs ~0.2 s and boto3 clients are thread-safe."""
    return _client(values.get("aws_profile") or None, values.get("region") or None,
                   values.get("endpoint_url") or None, attempts, connect_timeout,
                   tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))))


@functools.lru_cache(maxsize=16)
def _client(profile: str | None, region: str | None, endpoint: str | None, attempts: int,
            connect_timeout: int, _env: tuple[tuple[str, str], ...]) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile, region_name=region)
    cfg = Config(retries={"max_attempts": attempts, "mode": "standard"},
                 connect_timeout=connect_timeout, read_timeout=120,
                 s3={"addressing_style": "path"} if endpoint else {})
    return session.client("s3", endpoint_url=endpoint, config=cfg)


def aws_error(e: BaseException, what: str) -> DestinationError:
    """A readable DestinationError for a boto3 failure."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        ProfileNotFound,
    )

    if isinstance(e, NoCredentialsError):
        cause = ("no AWS credentials found (standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                 "~/.aws config and profiles, SSO, or an instance/task role)")
    elif isinstance(e, ProfileNotFound):
        cause = f"AWS profile not found: {e}"
    elif isinstance(e, EndpointConnectionError):
        cause = f"cannot reach the endpoint: {e}"
    elif isinstance(e, ClientError):
        err = e.response.get("Error", {})
        cause = f"{err.get('Code', 'error')}: {err.get('Message') or e}"
    else:
        cause = f"{type(e).__name__}: {e}"
    return DestinationError(f"{what}: {cause}")


class S3Store:
    """A bucket and key prefix, with the client to reach them."""

    def __init__(self, values: dict[str, str], client: Any = None) -> None:
        self.bucket = values["bucket"]
        self.prefix = values.get("prefix", "").strip("/")
        self.values = values
        self._client = client

    @property
    def client(self) -> Any:
        """The boto3 client (made on first use)."""
        if self._client is None:
            self._client = s3_client(self.values)
        return self._client

    def key(self, *parts: str) -> str:
        """A key under the prefix."""
        return "/".join(p for p in (self.prefix, *parts) if p)

    def url(self, key: str) -> str:
        """The s3:// URL of a key."""
        return f"s3://{self.bucket}/{key}"

    def get_json(self, key: str) -> Any:
        """An object parsed as JSON, or None when it does not exist."""
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise aws_error(e, f"reading {self.url(key)}") from None
        except Exception as e:
            raise aws_error(e, f"reading {self.url(key)}") from None
        return orjson.loads(body)

    def put_json(self, key: str, obj: Any) -> None:
        """Write an object as JSON."""
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=orjson.dumps(obj),
                                   ContentType="application/json")
        except Exception as e:
            raise aws_error(e, f"writing {self.url(key)}") from None

    def check(self) -> str:
        """Prove the bucket is reachable and writable under the prefix."""
        probe = self.key("_peak_commits", "_probe", uuid.uuid4().hex)
        client = self._client or s3_client(self.values, attempts=1, connect_timeout=5)
        try:
            client.head_bucket(Bucket=self.bucket)
            client.put_object(Bucket=self.bucket, Key=probe, Body=b"ok")
            client.delete_object(Bucket=self.bucket, Key=probe)
        except Exception as e:
            raise aws_error(e, f"S3 bucket {self.bucket}") from None
        return f"S3 bucket {self.bucket} is writable under {self.url(self.key()) + '/'}"
