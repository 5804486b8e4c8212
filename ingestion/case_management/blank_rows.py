"""Where the blank lines of a text export stand, as rows of the file.

DuckDB's CSV reader skips an empty line without a record, but counts it in the line numbers of
its rejects; a spreadsheet shows it as an empty row, an editor as an empty line. Accepted rows
are numbered from the reader's records, so every blank line must be counted back in, or every
row after it is named one row too early (the steward looks at the wrong row).

A blank line is one that ends where it starts, outside a quoted value: a line end inside a
quoted value (a note with an empty line between two paragraphs) is no row. The file's quotes
are followed the way the reader follows them: a quote opens a value only at the start of a
field, inside a value an odd run of quotes closes it (``""`` is a quote), elsewhere a quote is
a character (``5" Diskette``). Only numbers leave this module; no value is kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHUNK_BYTES = 1 << 24
_QUOTE, _LF, _CR = ord('"'), ord("\n"), ord("\r")
UTF8_BOM = b"\xef\xbb\xbf"


def has_blank_line(path: Path) -> bool:
    """Whether a text file holds two line ends in a row anywhere, CR LF itself aside (a search
    that stops at the first): without them it has no blank line, and nothing more is done. A
    70 MB export costs 0.1 CPU seconds with LF (one byte search), 0.15 with CR LF."""
    before = b""
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            if _two_line_ends(before + chunk):
                return True
            before = chunk[-1:]
    return False


def _two_line_ends(chunk: bytes) -> bool:
    if b"\r" not in chunk:
        return b"\n\n" in chunk  # LF only: one search, no array
    a = np.frombuffer(chunk, np.uint8)
    ends = np.flatnonzero((a == _LF) | (a == _CR))
    together = np.flatnonzero(np.diff(ends) == 1)
    # Two line-end bytes side by side that are not one CR LF.
    return bool(((a[ends[together]] != _CR) | (a[ends[together + 1]] != _LF)).any())


def blank_rows(path: Path, delimiter: str, after_row: int = 0) -> np.ndarray:
    """The rows of a text export (as a spreadsheet numbers them: a quoted value over several
    lines is one row) that are blank lines, those below row ``after_row`` (the header's).

    Only when :func:`has_blank_line` finds two line ends in a row is the file read for them,
    in chunks, with NumPy: the quotes and line ends are found byte-wise, only the runs of
    quotes and the line ends are looked at one by one (1M contacts, 70 MB, 1,000 blank lines:
    0.3 CPU seconds; extract 3.2 -> 3.55). A file whose line ends are mixed is read as
    :func:`write_with_lf` writes it: every line end one, so the rows found are the same.
    """
    if not has_blank_line(path):
        return np.empty(0, np.int64)
    found: list[np.ndarray] = []
    previous_end = 0  # where the last row's line end ended (bytes from the file's start)
    rows = 0  # rows ended before the chunk
    offset = 0
    for a, starts, ends in _row_ends(path, delimiter):
        starts, ends = starts + offset, ends + offset
        row_start = np.concatenate(([previous_end], ends[:-1]))
        blank = np.flatnonzero(starts == row_start) + rows + 1
        found.append(blank[blank > after_row])
        if len(ends):
            previous_end, rows = int(ends[-1]), rows + len(ends)
        offset += len(a)
    return np.concatenate(found) if found else np.empty(0, np.int64)


def may_mix_line_ends(path: Path) -> bool:
    """Whether a text file's line ends may be of more than one kind (CR LF, LF, CR alone),
    counting those inside quoted values too (a pass that stops early): a file of LF only or
    CR LF only, as nearly every export is, is not looked at further (1M contacts, 71 MB, CR LF:
    0.14 CPU seconds; LF only: a byte search)."""
    kinds: set[str] = set()
    for chunk in _chunks(path):
        if b"\r" not in chunk:
            kinds |= {"lf"} if b"\n" in chunk else set()
        else:
            crlf, cr, lf = chunk.count(b"\r\n"), chunk.count(b"\r"), chunk.count(b"\n")
            kinds |= {k for k, n in (("crlf", crlf), ("cr", cr - crlf), ("lf", lf - crlf)) if n}
        if len(kinds) > 1:
            return True
    return False


def mixed_line_ends(path: Path, delimiter: str) -> bool:
    """Whether the rows of a text export end in line ends of more than one kind (CR LF, LF,
    CR alone), line ends inside quoted values aside: a Windows export edited on Linux (rows
    added or changed with LF), or one row pasted in from another file. DuckDB's reader in
    strict mode refuses such a file as a whole ("invalid state"), naming no row; a line end in
    a quoted value (Excel writes a cell's line break as LF in a CR LF file) it reads: for such
    a file the quotes are followed (71 MB, 125,000 notes over two lines: 0.5 CPU seconds)."""
    if not may_mix_line_ends(path):
        return False
    kinds = 0  # bit 0: CR LF, bit 1: LF, bit 2: CR alone
    for a, starts, ends in _row_ends(path, delimiter):
        two = ends - starts == 2
        kinds |= (int(two.any()) | int((a[starts[~two]] == _LF).any()) << 1
                  | int((a[starts[~two]] == _CR).any()) << 2)
        if kinds & (kinds - 1):  # more than one bit
            return True
    return False


def write_with_lf(path: Path, target: Path, delimiter: str) -> None:
    """``path`` written to ``target`` with every line end that ends a row (outside quoted
    values) an LF: one line end for one, so every row stays on its line and the editor's line
    numbers stay those of the file delivered; quoted values keep their bytes. The BOM is left
    out (the file is read as UTF-8). 71 MB: 0.3 CPU seconds."""
    with target.open("wb") as out:
        for a, starts, ends in _row_ends(path, delimiter):
            b = a.copy()
            b[starts] = _LF  # a CR alone becomes an LF; a CR LF's CR is dropped below
            keep = np.ones(len(b), bool)
            keep[starts[ends - starts == 2] + 1] = False
            out.write(b[keep].tobytes())


def _row_ends(path: Path, delimiter: str) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each chunk of a text export (:func:`_chunks`) as bytes, with where its line ends outside
    quoted values start and end (in the chunk; CR LF starts at its CR)."""
    field_start = np.array([ord(delimiter), _LF, _CR], np.uint8)
    inside = False  # in a quoted value at the chunk's start
    last_byte = _LF  # the file's start is a field's start
    for chunk in _chunks(path):
        a = np.frombuffer(chunk, np.uint8)
        before = np.concatenate(([last_byte], a[:-1])).astype(np.uint8)
        states, runs = _quote_states(a, before, field_start, inside)
        # Line ends: LF (CR LF ends where its LF is, starts at its CR) and CR alone.
        lf = np.flatnonzero(a == _LF)
        cr = np.flatnonzero(a == _CR)
        cr = cr[(cr + 1 >= len(a)) | (a[np.minimum(cr + 1, len(a) - 1)] != _LF)]
        starts = np.concatenate((lf - (before[lf] == _CR), cr))
        ends = np.concatenate((lf, cr)) + 1
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        # Inside a value when the run of quotes last before the line end left one open.
        k = np.searchsorted(runs, starts)
        open_at = np.where(k > 0, states[np.maximum(k - 1, 0)], inside) if len(runs) else (
            np.full(len(starts), inside))
        yield a, starts[~open_at], ends[~open_at]
        inside = bool(states[-1]) if len(runs) else inside
        last_byte = a[-1]


def _chunks(path: Path) -> Iterator[bytes]:
    """The file without its BOM (as the reader and a spreadsheet take it) in chunks that end
    neither inside a run of quotes nor between CR and LF."""
    with path.open("rb") as fh:
        bom = fh.read(len(UTF8_BOM))
        start = b"" if bom == UTF8_BOM else bom
        while chunk := start + fh.read(CHUNK_BYTES):
            start = b""
            while chunk.endswith((b'"', b"\r")) and (more := fh.read(1)):
                chunk += more
            yield chunk


def _quote_states(a: np.ndarray, before: np.ndarray, field_start: np.ndarray,
                  inside: bool) -> tuple[np.ndarray, np.ndarray]:
    """For each run of an odd number of quotes in ``a`` (its position), whether a quoted value
    is open after it. Outside a value only a run at a field's start opens one (an even run
    there is an empty or quoted-quote value, and elsewhere quotes are characters); inside, an
    odd run closes it. So after a run that cannot open a value none is open, and in a sequence
    of runs that can, they open and close in turn."""
    quotes = np.flatnonzero(a == _QUOTE)
    if not len(quotes):
        return np.empty(0, bool), quotes
    first = np.concatenate(([True], np.diff(quotes) > 1))
    run_starts = quotes[first]
    lengths = np.diff(np.concatenate((np.flatnonzero(first), [len(quotes)])))
    odd = run_starts[lengths % 2 == 1]
    can_open = np.isin(before[odd], field_start)
    # A quoted value open at the chunk's start: as if a run had just opened it.
    opens = np.concatenate(([inside], can_open))
    idx = np.arange(len(opens))
    stretch = opens & ~np.concatenate(([False], opens[:-1]))
    first_of_stretch = np.maximum.accumulate(np.where(stretch, idx, 0))
    states = opens & ((idx - first_of_stretch) % 2 == 0)
    return states[1:], odd
