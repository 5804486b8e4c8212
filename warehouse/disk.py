"""A full disk, or a file-size limit reached (``ulimit -f``, a quota): recognised wherever it
happens, and told in one line naming the file that could not be written."""

from __future__ import annotations

import errno
import os
import re
import resource
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse import paths

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
DISK_FULL_MESSAGES = ("database or disk is full", "No space left on device", "File too large",
                      "Disk quota exceeded")
LOW_SPACE_BYTES = 64_000_000
# DuckDB names the file: 'Could not write file "/x/build.duckdb": File too large'
# or ours: "... while writing /x/marts.duckdb"
NAMED_FILE = re.compile(r'(?:write|writing|extend|truncate)[a-z ]* file "(?P<path>[^"]+)"'
                        r'|file size limit while writing (?P<ours>\S+)')


class DiskFull(OSError):
    """Writing ``path`` failed because the disk or the file-size limit is full."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(errno.ENOSPC, f"disk full or file size limit while writing {path}")
        self.path = str(path)

    def __str__(self) -> str:
        return str(self.strerror)


def _file_size_limited() -> bool:
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return soft != resource.RLIM_INFINITY


def says_disk_full(text: str) -> bool:
    """Whether an error message means a full disk: in words, or as the "disk I/O error" SQLite
    (Dagster's storage) gives for a full disk or a file-size limit too, while the disk under
    DATENWERK_HOME is nearly full or a file-size limit is set."""
    if any(message in text for message in DISK_FULL_MESSAGES) or "disk full or file size" in text:
        return True
    if "disk I/O error" in text:
        if _file_size_limited():
            return True
        try:
            return shutil.disk_usage(paths.home()).free < LOW_SPACE_BYTES
        except OSError:
            return False
    return False


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it (``__cause__``, else ``__context__``), each once."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) is the disk or the file-size limit being full: an errno, or
    the message SQLite (Dagster's storage) and DuckDB give it."""
    return any((isinstance(link, OSError) and link.errno in DISK_FULL_ERRNOS)
               or says_disk_full(str(link)) for link in causes(exc))


def unwritten(exc: BaseException) -> str:
    """The file that could not be written, as far as ``exc`` tells."""
    for link in causes(exc):
        if isinstance(link, DiskFull):
            return link.path
        if isinstance(link, OSError) and link.filename:
            return str(link.filename)
        found = NAMED_FILE.search(f"{link} {getattr(link, 'description', '') or ''}")
        if found:
            return found["path"] or found["ours"]
        if "sqlite" in type(link).__module__ or "sqlalchemy" in type(link).__module__:
            storage = os.environ.get("DAGSTER_HOME") or paths.dagster_home()
            return f"Dagster's run storage in {storage}"
    return f"a file under {paths.home()}"


@contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Turn a full disk while writing ``path`` into :class:`DiskFull` naming it."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(path) from exc
        raise


def disk_full_message(exc: BaseException | str) -> str:
    """One line: what could not be written (as ``exc`` or an error's text tells), how much is
    free, and that the publication is safe."""
    if isinstance(exc, str):
        exc = Exception(exc)
    home = paths.home()
    try:
        free = f"{shutil.disk_usage(home).free / 1e6:,.0f} MB free under {home}"
    except OSError:
        free = f"free space under {home} unknown"
    return (f"disk full or file size limit while writing {unwritten(exc)} ({free}); free space "
            f"and run again. The last good publication is unchanged: {paths.published_db()}")
