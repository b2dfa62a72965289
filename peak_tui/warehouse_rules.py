"""The fields of each warehouse kind and their rules; the CLI, the TUI and the engine share them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peak_tui.errors import ValidationError

KINDS = ("local", "redshift", "snowflake")
KIND_LABELS = {"local": "Local warehouse", "redshift": "Amazon Redshift + S3", "snowflake": "Snowflake"}
SNOWFLAKE_AUTH = ("password", "keypair")


@dataclass(frozen=True)
class FieldSpec:
    """One setting: its key, label, whether it is secret, and a one-line help text."""

    key: str
    label: str
    help: str
    secret: bool = False
    default: str = ""


FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "local": (),
    "redshift": (
        FieldSpec("cluster_id", "Cluster id", "provisioned cluster identifier (or a workgroup)"),
        FieldSpec("workgroup", "Workgroup", "Redshift Serverless workgroup (or a cluster id)"),
        FieldSpec("database", "Database", "database to load into (tables go in schema stage)"),
        FieldSpec("db_user", "Database user", "cluster only: temporary credentials for this user"),
        FieldSpec("secret_arn", "Secret ARN", "Secrets Manager ARN with the database credentials"),
        FieldSpec("region", "Region", "AWS region of the cluster and bucket, e.g. eu-west-1"),
        FieldSpec("iam_role", "COPY IAM role", "role ARN Redshift assumes to read the staged files"),
        FieldSpec("bucket", "S3 bucket", "data-lake bucket: S3 loads and Redshift staging"),
        FieldSpec("prefix", "S3 prefix", "key prefix inside the bucket, e.g. peak/raw"),
        FieldSpec("endpoint_url", "S3 endpoint", "optional: an S3-compatible endpoint URL"),
        FieldSpec("aws_profile", "AWS profile", "optional: a named profile; default is the AWS chain"),
    ),
    "snowflake": (
        FieldSpec("account", "Account", "account identifier, e.g. myorg-myaccount"),
        FieldSpec("user", "User", "login name"),
        FieldSpec("auth", "Authentication", "password or keypair", default="password"),
        FieldSpec("password", "Password", "password authentication", secret=True),
        FieldSpec("private_key_path", "Private key file", "keypair: path of a PEM private key"),
        FieldSpec("private_key", "Private key (PEM)", "keypair: the PEM text itself", secret=True),
        FieldSpec("private_key_passphrase", "Key passphrase", "keypair: if the key is encrypted",
                  secret=True),
        FieldSpec("warehouse", "Warehouse", "virtual warehouse that runs the loads"),
        FieldSpec("database", "Database", "database to load into"),
        FieldSpec("role", "Role", "optional: role to use"),
        FieldSpec("schema", "Schema", "schema of the feed tables", default="STAGE"),
    ),
}


def spec(kind: str, key: str) -> FieldSpec:
    """The field spec of one setting."""
    for f in FIELDS[kind]:
        if f.key == key:
            return f
    raise ValidationError(f"warehouse.{kind}", f"has no setting {key!r}", key)


def secret_keys(kind: str) -> tuple[str, ...]:
    """Keys of the secret settings of a kind."""
    return tuple(f.key for f in FIELDS.get(kind, ()) if f.secret)


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_SECRET_ARN = re.compile(r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[\w/+=.@-]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CLUSTER = re.compile(r"[a-z][a-z0-9-]{0,62}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DBUSER = re.compile(r"[A-Za-z_][A-Za-z0-9_.@$-]{0,127}")


def _need(kind: str, key: str, value: str, rule: str = "is required") -> None:
    if not value:
        raise ValidationError(f"warehouse.{kind}.{key}", rule, value or None)


def _match(kind: str, key: str, value: str, pattern: re.Pattern[str], rule: str) -> None:
    if value and not pattern.fullmatch(value):
        raise ValidationError(f"warehouse.{kind}.{key}", rule, value)


def clean(kind: str, values: dict[str, Any]) -> dict[str, str]:
    """Strip and default every field of a kind; refuse keys the kind does not have."""
    if kind not in KINDS:
        raise ValidationError("warehouse.kind", f"must be one of {', '.join(KINDS)}", kind)
    known = {f.key: f for f in FIELDS[kind]}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValidationError(f"warehouse.{kind}", f"has no setting {unknown[0]!r}; settings are "
                              f"{', '.join(known) or 'none'}", unknown[0])
    out: dict[str, str] = {}
    for key, f in known.items():
        val = values.get(key)
        if val is None:
            val = ""
        if not isinstance(val, (str, int)) or isinstance(val, bool):
            raise ValidationError(f"warehouse.{kind}.{key}", "must be text", val, show_value=not f.secret)
        text = str(val) if f.secret else str(val).strip()
        out[key] = text or f.default
    return out


def validate_redshift(v: dict[str, str]) -> dict[str, str]:
    """Check a Redshift configuration as a whole."""
    k = "redshift"
    if bool(v["cluster_id"]) == bool(v["workgroup"]):
        raise ValidationError("warehouse.redshift.cluster_id", "set exactly one of cluster_id "
                              "(provisioned) or workgroup (serverless)", v["cluster_id"] or None)
    _match(k, "cluster_id", v["cluster_id"], _CLUSTER, "must be lowercase letters, digits and "
           "hyphens, starting with a letter")
    _match(k, "workgroup", v["workgroup"], re.compile(r"[a-z0-9-]{3,64}"),
           "must be 3-64 lowercase letters, digits and hyphens")
    _need(k, "database", v["database"])
    _match(k, "database", v["database"], _NAME, "must be a plain identifier")
    if v["workgroup"] and v["db_user"]:
        raise ValidationError("warehouse.redshift.db_user", "is for provisioned clusters only; "
                              "serverless uses your IAM identity or a secret_arn", v["db_user"])
    if v["cluster_id"] and not (v["db_user"] or v["secret_arn"]):
        raise ValidationError("warehouse.redshift.db_user", "a cluster needs a db_user or a "
                              "secret_arn", None)
    if v["db_user"] and v["secret_arn"]:
        raise ValidationError("warehouse.redshift.secret_arn", "set either db_user or secret_arn, "
                              "not both", v["secret_arn"])
    _match(k, "db_user", v["db_user"], _DBUSER, "must be a database user name")
    _match(k, "secret_arn", v["secret_arn"], _SECRET_ARN,
           "must be a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)")
    _need(k, "region", v["region"])
    _match(k, "region", v["region"], _REGION, "must be an AWS region like eu-west-1")
    _need(k, "iam_role", v["iam_role"])
    _match(k, "iam_role", v["iam_role"], _ROLE_ARN, "must be an IAM role ARN "
           "(arn:aws:iam::123456789012:role/NAME)")
    _need(k, "bucket", v["bucket"])
    _match(k, "bucket", v["bucket"], _BUCKET, "must be an S3 bucket name (3-63 lowercase letters, "
           "digits, dots, hyphens)")
    v["prefix"] = v["prefix"].strip("/")
    if any(not p or p in (".", "..") for p in v["prefix"].split("/")) and v["prefix"]:
        raise ValidationError("warehouse.redshift.prefix", "must not contain empty, '.' or '..' "
                              "segments", v["prefix"])
    if v["endpoint_url"]:
        from peak_tui.validation import http_url

        v["endpoint_url"] = http_url("warehouse.redshift.endpoint_url", v["endpoint_url"]).rstrip("/")
    return v


def validate_snowflake(v: dict[str, str]) -> dict[str, str]:
    """Check a Snowflake configuration as a whole (and that a key pair's key can be read)."""
    k = "snowflake"
    acct = v["account"].lower()
    for suffix in (".snowflakecomputing.com", ".snowflakecomputing.cn"):
        acct = acct.removeprefix("https://").removesuffix(suffix)
    v["account"] = acct
    _need(k, "account", acct)
    _match(k, "account", acct, _ACCOUNT, "must be an account identifier like myorg-myaccount")
    _need(k, "user", v["user"])
    if v["auth"] not in SNOWFLAKE_AUTH:
        raise ValidationError("warehouse.snowflake.auth", "must be password or keypair", v["auth"])
    for key in ("warehouse", "database", "schema"):
        _need(k, key, v[key])
    for key in ("warehouse", "database", "role", "schema"):
        _match(k, key, v[key], _NAME, "must be a plain identifier (letters, digits, _ and $)")
    v["schema"] = v["schema"].upper()
    if v["auth"] == "password":
        _need(k, "password", v["password"], "is required for password authentication")
        v.update(private_key_path="", private_key="", private_key_passphrase="")
    else:
        if bool(v["private_key_path"]) == bool(v["private_key"]):
            raise ValidationError("warehouse.snowflake.private_key", "keypair authentication needs "
                                  "exactly one of private_key_path or private_key (PEM text)", None)
        v["password"] = ""
        private_key_der(v)
    return v


def private_key_der(v: dict[str, str]) -> bytes:
    """The key pair's private key as DER bytes (what the connector takes); clear errors otherwise."""
    from cryptography.hazmat.primitives import serialization

    field = "warehouse.snowflake.private_key"
    if v["private_key_path"]:
        field = "warehouse.snowflake.private_key_path"
        path = Path(v["private_key_path"]).expanduser()
        try:
            pem = path.read_bytes()
        except OSError as e:
            raise ValidationError(field, f"cannot be read: {e.strerror or e}", str(path)) from None
    else:
        pem = v["private_key"].strip().encode()
    password = v["private_key_passphrase"].encode() or None
    try:
        key = serialization.load_pem_private_key(pem, password=password)
    except TypeError as e:
        rule = ("is encrypted: set private_key_passphrase" if password is None
                else "is not encrypted: leave private_key_passphrase empty")
        raise ValidationError(field, rule, None, show_value=False) from e
    except ValueError:
        raise ValidationError(field, "is not a PEM private key, or the passphrase is wrong",
                              None, show_value=False) from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def validate(kind: str, values: dict[str, Any]) -> dict[str, str]:
    """Clean and check a whole configuration of a kind."""
    v = clean(kind, values)
    if kind == "redshift":
        return validate_redshift(v)
    if kind == "snowflake":
        return validate_snowflake(v)
    return v
