"""File helpers shared by every layer: content hashes and atomic, durable writes."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

from warehouse import disk

# What a blank line of a text export may hold besides delimiters: spaces, line ends and quotes
# (``;;;;``, the way Excel saves an empty row; ``"";""``). One rule for every reader.
BLANK_CHARACTERS = ' \t\r\n"'


def is_blank_line(text: str | bytes, delimiter: str) -> bool:
    """Whether a line of a text export is blank: nothing but delimiters, quotes and spaces
    (:data:`BLANK_CHARACTERS`)."""
    blank = BLANK_CHARACTERS + delimiter
    return not (text.strip(blank.encode()) if isinstance(text, bytes) else text.strip(blank))


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read a MiB at a time (files may be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Bytes that are not UTF-8, as the ``surrogateescape`` decoder gives them (a U+FFFD in the text
# is a character like any other: some exports hold it where an umlaut was lost before).
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


def utf8_decoder() -> codecs.IncrementalDecoder:
    """A decoder for :func:`utf8_evidence` over a file read in parts."""
    return codecs.getincrementaldecoder("utf-8")("surrogateescape")


def utf8_evidence(data: bytes, decoder: codecs.IncrementalDecoder | None = None,
                  final: bool = False) -> tuple[int, int]:
    """(valid non-ASCII UTF-8 characters, bytes that are not UTF-8) of ``data`` read as UTF-8;
    a character cut off at the end waits for the next part (``decoder``: one per file, from
    :func:`utf8_decoder`) or, without ``final``, does not count.

    Text with UTF-8 umlauts is UTF-8 even where a byte is damaged: that row is set aside, the
    others keep their umlauts. A Windows-1252 umlaut alone (0xF6 for ö) is never valid UTF-8, and
    Windows-1252 text almost never forms a valid UTF-8 sequence: such a file has only invalid
    bytes."""
    text = (decoder or utf8_decoder()).decode(data, final=final)
    invalid = len(_NOT_UTF8.findall(text))
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - invalid, invalid


_NON_ASCII = re.compile(rb"[\x80-\xff]")


def utf8_count(path: Path, enough: int | None = None) -> tuple[int, int]:
    """:func:`utf8_evidence` of a whole file, read in C 4 MiB at a time from its first non-ASCII
    byte (ASCII before it says nothing); with ``enough``, only until that many characters and
    bytes have been counted. (0, 0): the file is plain ASCII."""
    valid = invalid = 0
    decoder = None
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 22)
            if decoder is None:
                if not chunk:
                    return 0, 0
                found = _NON_ASCII.search(chunk)
                if found is None:
                    continue
                decoder, chunk = utf8_decoder(), chunk[found.start():]
            more_valid, more_invalid = utf8_evidence(chunk, decoder, final=not chunk)
            valid, invalid = valid + more_valid, invalid + more_invalid
            if not chunk or (enough is not None and valid + invalid >= enough):
                return valid, invalid


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
