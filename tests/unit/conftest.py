"""Fixtures for the warehouse tests: moto S3, a PostgreSQL cluster, fakesnow (see tests/services.py)."""
from __future__ import annotations

from tests.services import (  # noqa: F401 - pytest finds fixtures by name
    aws_env,
    fakesnow_db,
    moto_server,
    pg_cluster,
    redshift_pg,
    s3_bucket,
)
