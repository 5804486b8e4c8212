"""File helpers shared by every layer: content hashes and atomic, durable writes."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from warehouse import disk


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read a MiB at a time (files may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Make a rename or creation inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to disk before it is renamed into place."""
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def write_text_atomically(path: Path, text: str) -> None:
    """Write under a temporary name, fsync, rename: readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}-{uuid.uuid4().hex}.tmp")
    try:
        with disk.writing(path):  # a full disk names the file it could not write
            tmp.write_text(text, encoding="utf-8")
            fsync_file(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """:func:`write_text_atomically` of ``payload`` as indented UTF-8 JSON."""
    write_text_atomically(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
