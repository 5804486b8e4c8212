"""Keyed pseudonyms for person identifiers (client, case worker, staff).

HMAC-SHA256 with a secret key: the same identifier always gives the same pseudonym (stable across
loads and deliveries), and without the key nobody can recompute or reverse it. The key comes from
``DATENWERK_PSEUDONYM_KEY`` or from a key file outside the repository (``DATENWERK_KEY_FILE``,
default ``$DATENWERK_HOME/secrets/pseudonym.key``), never from both. It is never logged.

The key is part of the data's identity: pseudonyms made with another key never match. The
warehouse records the key's fingerprint (an HMAC of a fixed label, which says nothing about the
key), and a load with another key is refused (:func:`check_key_matches_warehouse`).
:func:`rotate_key` replaces the key on purpose and reloads the case-management data under it.

In a federation (``DATENWERK_FEDERATION=1``) each member organisation pseudonymises with its own
key, an HMAC of its organisation code under the installation's key
(:func:`organisation_key`): one secret to keep and rotate, yet the same client number at two
organisations gives two unrelated pseudonyms, so neither their rows nor their exports link.
Whether keys are per organisation is part of the fingerprint, so switching an installation that
holds data between the two refuses to load until the key is rotated.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from warehouse import paths, settings
from warehouse.db import table_exists

# What pseudonymise_array trims around an identifier (Arrow's utf8_trim_whitespace: Python's
# str.isspace), so that the SQL pseudonym of a padded value is the one Python gives.
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
# SHA-256's block size: HMAC pads (or first hashes) the key to it.
HMAC_BLOCK_BYTES = 64
# 128 bits of the HMAC: collision-free for any realistic number of people, half the storage.
PSEUDONYM_HEX_CHARS = 32
# What the fingerprint is an HMAC of: fixed, so one key always has one fingerprint.
FINGERPRINT_LABEL = b"datenwerk pseudonym key fingerprint v1"
# A federation's fingerprint differs: its pseudonyms are made with keys derived per organisation.
FEDERATION_LABEL = b" per organisation"
# What an organisation's key is an HMAC of, with its code appended.
ORGANISATION_KEY_LABEL = b"datenwerk organisation pseudonym key v1|"
# 64 bits: tells two keys apart, and is far too short to help anyone guess a key.
FINGERPRINT_HEX_CHARS = 16
# Where the build database records the fingerprint of the key its pseudonyms were made with.
KEY_TABLE = "datenwerk_meta.pseudonym_key"
# The raw datasets holding pseudonyms; rotating the key reloads them from the inbox.
PSEUDONYMISED_DATASETS = ("raw_case_management",)


class MissingKeyError(RuntimeError):
    """No pseudonymisation key is configured: a terminal configuration error, not retried."""


class KeyMismatchError(RuntimeError):
    """The configured key is not the one the warehouse's pseudonyms were made with, or two key
    sources are configured at once: a terminal configuration error, not retried."""


def key_path() -> Path:
    override = settings.key_file_override()
    return Path(override).expanduser().resolve() if override else paths.key_file()


def ensure_key_file() -> Path:
    """Create a random key file if none exists (used by the demo set-up); return its path."""
    path = key_path()
    if settings.pseudonym_key_from_env() or path.exists():
        return path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


@lru_cache(maxsize=4)
def _load_key(env_key: str | None, path: str, mtime_ns: int | None = None) -> bytes:
    """The key; ``mtime_ns`` of the key file is part of the cache key, so that a long-lived
    process (the Dagster daemon) sees a replaced key file."""
    p = Path(path)
    if env_key and (p.exists() or settings.key_file_override()):
        # Which one wins would silently decide whether later loads link to earlier ones.
        raise KeyMismatchError(
            f"Two pseudonymisation keys are configured: DATENWERK_PSEUDONYM_KEY and the key file "
            f"{p}. Use one: unset the variable, or move the key file away."
        )
    if env_key:
        return env_key.encode()
    if not p.exists():
        raise MissingKeyError(
            f"No pseudonymisation key: set DATENWERK_PSEUDONYM_KEY or create the key file {p} "
            "(`datenwerk init-key` makes one). Keep it outside the repository and back it up: "
            "without the same key, later loads cannot be linked to earlier ones."
        )
    key = p.read_text().strip().encode()
    if len(key) < 32:
        raise MissingKeyError(f"The key in {p} is shorter than 32 characters; use a longer one.")
    return key


def current_key() -> bytes:
    path = key_path()
    mtime = path.stat().st_mtime_ns if path.exists() else None
    return _load_key(settings.pseudonym_key_from_env(), str(path), mtime)


def organisation_key(organisation_code: str, key: bytes | None = None) -> bytes:
    """The key an organisation's identifiers are pseudonymised with: the installation's key,
    or in a federation a key derived from it for this organisation alone."""
    key = key or current_key()
    if not settings.federation():
        return key
    label = ORGANISATION_KEY_LABEL + organisation_code.encode("utf-8")
    return hmac.new(key, label, hashlib.sha256).hexdigest().encode()


def pseudonym(value: str, key: bytes | None = None) -> str:
    """The pseudonym of one identifier."""
    digest = hmac.new(key or current_key(), value.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


def pseudonymise_array(values: pa.Array | pa.ChunkedArray, key: bytes | None = None) -> pa.Array:
    """Replace every identifier in a string array by its pseudonym; nulls stay null.

    HMAC runs once per distinct value, then the result is mapped back with Arrow's ``take``.
    """
    key = key or current_key()
    values = pc.utf8_trim_whitespace(values.cast(pa.string()))
    distinct = pc.unique(values).drop_null()
    mapped = pa.array([pseudonym(v, key) for v in distinct.to_pylist()], pa.string())
    return pc.take(mapped, pc.index_in(values, value_set=distinct))


def use_key_in_sql(con: duckdb.DuckDBPyConnection, key: bytes | None = None) -> None:
    """Give the connection's :func:`pseudonym_sql` its key (default: the configured one).

    The key's HMAC pads go into session variables, not into SQL text, so that no statement,
    error message or plan printed in a log holds the key.
    """
    key = key or current_key()
    if len(key) > HMAC_BLOCK_BYTES:
        key = hashlib.sha256(key).digest()
    key = key.ljust(HMAC_BLOCK_BYTES, b"\0")
    for name, byte in (("pseudonym_inner_pad", 0x36), ("pseudonym_outer_pad", 0x5C)):
        con.execute(f"set variable {name} = ?", [bytes(b ^ byte for b in key)])


def pseudonym_sql(expr: str) -> str:
    """DuckDB SQL computing the pseudonym of the text ``expr`` (nulls stay null), on a
    connection prepared by :func:`use_key_in_sql`: the same value as :func:`pseudonymise_array`,
    as HMAC-SHA256 spelt out with DuckDB's own ``sha256``, so that it runs vectorised on all cores
    and no row passes through Python."""
    # Every whitespace character is below '!' or above U+0084: a value that begins and ends
    # between them (almost all) skips the costly trim by a character set.
    ends = " and ".join(f"ord({e}) between 33 and 132" for e in (expr, f"right({expr}, 1)"))
    text = f"encode(case when {ends} then {expr} else trim({expr}, '{WHITESPACE}') end)"
    inner = f"unhex(sha256(getvariable('pseudonym_inner_pad') || {text}))"
    return f"left(sha256(getvariable('pseudonym_outer_pad') || {inner}), {PSEUDONYM_HEX_CHARS})"


def key_fingerprint(key: bytes | None = None) -> str:
    """The key's fingerprint: an HMAC of a fixed label with the key (never the key itself); a
    federation's label says that its pseudonyms are per organisation."""
    label = FINGERPRINT_LABEL + (FEDERATION_LABEL if settings.federation() else b"")
    digest = hmac.new(key or current_key(), label, hashlib.sha256).hexdigest()
    return digest[:FINGERPRINT_HEX_CHARS]


def _recorded_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    if not table_exists(con, "datenwerk_meta", "pseudonym_key"):
        return None
    rows = con.execute(
        f"select fingerprint from {KEY_TABLE} order by recorded_at desc limit 1"
    ).fetchall()
    return str(rows[0][0]) if rows else None


def _record_fingerprint(con: duckdb.DuckDBPyConnection, fingerprint: str, note: str) -> None:
    con.execute("create schema if not exists datenwerk_meta")
    con.execute(
        f"create table if not exists {KEY_TABLE} "
        "(fingerprint varchar, recorded_at timestamptz, note varchar)"
    )
    con.execute(f"insert into {KEY_TABLE} values (?, ?, ?)", [fingerprint, datetime.now(UTC), note])


def check_key_matches_warehouse() -> str:
    """Refuse to load with another key than the warehouse's; return the key's fingerprint.

    The first load records the fingerprint in the build database; every later load compares.
    """
    fingerprint = key_fingerprint(current_key())
    db = paths.build_db()
    if db.exists():
        with duckdb.connect(str(db), read_only=True) as con:
            recorded = _recorded_fingerprint(con)
        if recorded == fingerprint:
            return fingerprint
        if recorded is not None:
            raise KeyMismatchError(
                f"The pseudonymisation key has changed: the warehouse was loaded with the key "
                f"whose fingerprint is {recorded}, the configured key's fingerprint is "
                f"{fingerprint}. Pseudonyms of the two keys never match: the same client would "
                "count twice. Configure the original key again (and DATENWERK_FEDERATION as it "
                "was: a federation derives a key per organisation), or change keys on purpose "
                "with `datenwerk rotate-key`."
            )
    db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(db)) as con:
        _record_fingerprint(con, fingerprint, "first load")
    return fingerprint


def rotate_key() -> tuple[str, str, Path]:
    """Replace the key file by a new random key and re-key the warehouse.

    Pseudonyms cannot be translated from one key to another (that is their point), so the
    erasure register is first carried to the new key (:func:`ingestion.erasure.carry_to_key`),
    then the pseudonymised raw datasets are dropped and every file still in the inbox loads again
    under the new key with the next run. The old key file is kept beside the new one, renamed
    after its fingerprint, so that older publications can still be matched by whoever holds it.
    Returns (old fingerprint, new fingerprint, retired key file).
    """
    if settings.pseudonym_key_from_env():
        raise KeyMismatchError(
            "The key comes from DATENWERK_PSEUDONYM_KEY: set a new value there yourself; "
            "`datenwerk rotate-key` replaces only a key file."
        )
    path = key_path()
    old = key_fingerprint(current_key())
    retired = path.with_name(f"{path.name}.retired-{old}")
    # The new key is on disk before the warehouse names it, and the key file is swapped last:
    # a rotation interrupted after the warehouse switched is completed by the next one.
    pending = path.with_name(f"{path.name}.new")
    db = paths.build_db()
    if pending.exists() and db.exists():
        new = key_fingerprint(pending.read_text().strip().encode())
        with duckdb.connect(str(db), read_only=True) as con:
            if _recorded_fingerprint(con) == new:
                os.replace(path, retired)
                os.replace(pending, path)
                _load_key.cache_clear()
                return old, new, retired
    new_key = secrets.token_hex(32)
    new = key_fingerprint(new_key.encode())
    pending.unlink(missing_ok=True)
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(new_key + "\n")
    # Erased clients are recorded under the new key before the warehouse uses it: the reload of
    # the inbox must not bring them back (same layer; imported here, it reads the inbox).
    from ingestion.erasure import carry_to_key

    carry_to_key(current_key(), new_key.encode())
    if db.exists():
        with duckdb.connect(str(db)) as con:
            for dataset in PSEUDONYMISED_DATASETS:
                con.execute(f'drop schema if exists "{dataset}" cascade')
            _record_fingerprint(con, new, f"rotate-key from {old}")
    for dataset in PSEUDONYMISED_DATASETS:
        # dlt's local state of a dataset that no longer exists would skip creating its tables.
        shutil.rmtree(paths.dlt_dir() / f"datenwerk_{dataset}", ignore_errors=True)
    os.replace(path, retired)
    os.replace(pending, path)
    _load_key.cache_clear()
    return old, new, retired
