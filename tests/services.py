"""Real services for the warehouse tests: moto's S3 server and a throwaway PostgreSQL cluster.

Both start as subprocesses on a free port and are stopped by the fixtures that start them; a failure
to start raises with the service's own output so the cause is visible in the test report.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests


class ServiceError(RuntimeError):
    """A test service could not start; the message says why."""


def free_port() -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """`moto_server -H 127.0.0.1 -p PORT` as a subprocess."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log = Path(tempfile.mkstemp(prefix="moto-", suffix=".log")[1])

    @property
    def url(self) -> str:
        """The endpoint URL for boto3."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, deadline: float = 20.0) -> MotoServer:
        """Start it and wait until it answers."""
        exe = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
        if not Path(exe).exists():
            raise ServiceError("moto_server is not installed: pip install 'moto[server]'")
        for _attempt in range(3):
            self.port = free_port()
            with open(self.log, "wb") as out:
                self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                             stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            end = time.monotonic() + deadline
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    break  # died (port taken?): try another port
                try:
                    if requests.get(f"{self.url}/moto-api/", timeout=0.5).status_code < 500:
                        return self
                except requests.RequestException:
                    time.sleep(0.05)
            self.stop()
        raise ServiceError(f"moto_server did not start; its output:\n{self.log.read_text()[-2000:]}")

    def reset(self) -> None:
        """Forget every bucket and object."""
        requests.post(f"{self.url}/moto-api/reset", timeout=10)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _find_pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    return found[-1].parent if found else None


def pg_bin() -> Path:
    """The PostgreSQL server binaries (newest version), installed with apt-get when missing (CI runs
    as root on a fresh machine)."""
    found = _find_pg_bin()
    if found is not None:
        return found
    if os.geteuid() != 0:
        raise ServiceError("PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin/initdb); "
                           "install them: sudo apt-get install -y postgresql")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        if r.returncode:
            raise ServiceError(f"{' '.join(cmd)} failed:\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
    found = _find_pg_bin()
    if found is None:
        raise ServiceError("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb exists")
    return found


class PostgresCluster:
    """A private PostgreSQL cluster (initdb + pg_ctl) on a unix socket in a temp dir.

    initdb refuses to run as root, so as root the cluster runs as the `postgres` user."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="peak-pg-"))
        self.data = self.root / "data"
        self.port = 0
        self.as_postgres = os.geteuid() == 0

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.root)

    def start(self) -> PostgresCluster:
        """initdb, then start on a free port with the socket in the temp dir."""
        if self.as_postgres:
            shutil.chown(self.root, "postgres")
            self.root.chmod(0o700)
        r = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                      "-E", "UTF8", "--no-sync", "--no-instructions")
        if r.returncode:
            raise ServiceError(f"initdb failed:\n{r.stdout[-1500:]}{r.stderr[-1500:]}")
        for _attempt in range(3):
            self.port = free_port()
            opts = (f"-p {self.port} -k {self.root} -c listen_addresses='' -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            r = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-w", "-t", "30",
                          "-l", str(self.root / "server.log"), "start")
            if r.returncode == 0:
                return self
        log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
        raise ServiceError(f"pg_ctl start failed:\n{r.stdout}{r.stderr}\n{log[-2000:]}")

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq connection string for a database of the cluster."""
        return f"host={self.root} port={self.port} user=postgres dbname={dbname}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


# --- fixtures (imported by tests/unit/conftest.py and by the fault tests) ---------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def moto_server() -> object:
    """moto's S3 (and AWS) server for the session."""
    server = MotoServer().start()
    yield server
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials through the standard chain (env vars); no real profile is read."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture
def s3_bucket(moto_server: MotoServer, aws_env: None) -> str:
    """A new, empty bucket on the moto server."""
    import boto3

    name = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_server.url, region_name="us-east-1").create_bucket(Bucket=name)
    return name


def redshift_values(moto: MotoServer, bucket: str, database: str = "dev") -> dict[str, str]:
    """Complete Redshift + S3 settings pointing S3 at moto."""
    return {"cluster_id": "peak-test", "database": database, "db_user": "loader",
            "region": "us-east-1", "iam_role": "arn:aws:iam::123456789012:role/peak-copy",
            "bucket": bucket, "prefix": "peak/raw", "endpoint_url": moto.url}


@pytest.fixture(scope="session")
def pg_cluster() -> object:
    """A throwaway PostgreSQL cluster for the session."""
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def redshift_pg(pg_cluster: PostgresCluster, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database; Redshift SQL runs there through PostgresExecutor. Returns its name."""
    from peak_tui.destinations import redshift
    from peak_tui.destinations.redshift_exec import PostgresExecutor

    name = pg_cluster.create_database("rs")
    monkeypatch.setattr(redshift, "EXECUTOR_FACTORY",
                        lambda values, store: PostgresExecutor(pg_cluster.conninfo(values["database"]),
                                                               store))
    return name


SNOWFLAKE_VALUES = {"account": "peak-test", "user": "loader", "password": "sf-pass-5f1e9",
                    "warehouse": "LOAD_WH", "database": "PEAKDB", "role": "LOADER"}


@pytest.fixture
def fakesnow_db() -> object:
    """Snowflake replaced in-process by fakesnow (a fresh in-memory database per test)."""
    import warnings

    import fakesnow

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fakesnow.patch():
            yield None
