"""Keyed pseudonyms for person identifiers (client, case worker, staff).

HMAC-SHA256 with a secret key: the same identifier always gives the same pseudonym (stable across
loads and deliveries), and without the key nobody can recompute or reverse it. The key comes from
``DATENWERK_PSEUDONYM_KEY`` or from a key file outside the repository (``DATENWERK_KEY_FILE``,
default ``$DATENWERK_HOME/secrets/pseudonym.key``). It is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from warehouse import paths, settings

# 128 bits of the HMAC: collision-free for any realistic number of people, half the storage.
PSEUDONYM_HEX_CHARS = 32


class MissingKeyError(RuntimeError):
    """No pseudonymisation key is configured: a terminal configuration error, not retried."""


def key_path() -> Path:
    override = settings.key_file_override()
    return Path(override).expanduser().resolve() if override else paths.key_file()


def ensure_key_file() -> Path:
    """Create a random key file if none exists (used by the demo set-up); return its path."""
    path = key_path()
    if settings.pseudonym_key_from_env() or path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path


@lru_cache(maxsize=4)
def _load_key(env_key: str | None, path: str) -> bytes:
    if env_key:
        return env_key.encode()
    p = Path(path)
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
    return _load_key(settings.pseudonym_key_from_env(), str(key_path()))


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
