"""Transient or terminal: which failures a step retries, and which stop it at once.

Transient faults go away by themselves: another process holding the DuckDB write lock on
``build.duckdb`` (an analyst's stray read-write connection, a second `datenwerk run`), or a
temporary I/O error on a network share. Steps retry them with exponential backoff
(:data:`RETRY_POLICY`). Everything else is terminal - a missing pseudonymisation key, bad
configuration, a rejected file, a publication blocked by a failed check, a dbt model or test that
fails: retrying cannot help, so the step fails once (``Failure(allow_retries=False)``) and the
failure alert goes out immediately.
"""

import errno
import re
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import Backoff, Failure, Jitter, RetryPolicy
from dagster._utils.error import SerializableErrorInfo

from warehouse.disk import causes

# 1 s, 2 s, 4 s, 8 s (+/- jitter): 15 s in all covers a read-write connection held for a quick
# query or a `datenwerk run` finishing its last step; a lock held longer is someone's mistake
# that the alert should report rather than wait out.
RETRY_POLICY = RetryPolicy(
    max_retries=4, delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.PLUS_MINUS
)

# What DuckDB says when another process holds the file (it reports no errno of its own).
LOCK_MESSAGES = ("Could not set lock", "Conflicting lock")
# Errors of the storage, not of our data or configuration.
TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.EBUSY, errno.ETIMEDOUT, errno.EINTR, errno.ESTALE,
     errno.ENOLCK, errno.ECONNRESET}
)


# DuckDB names the holder: 'Conflicting lock is held in /usr/bin/python3.11 (PID 4711) by user x'
LOCK_HOLDER = re.compile(
    r"lock is held in (?P<program>\S+) \(PID (?P<pid>\d+)\)(?: by user (?P<user>[^.\s]+))?")


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or anything in its cause chain) is a fault worth retrying.

    dlt wraps DuckDB's exceptions and dbt runs in a subprocess, so the lock is also recognised by
    DuckDB's message in the text (dagster-dbt puts dbt's error messages into its description).
    """
    for link in causes(exc):
        text = f"{link} {getattr(link, 'description', '') or ''}"
        if any(message in text for message in LOCK_MESSAGES):
            return True
        if isinstance(link, duckdb.IOException) and "lock" in text.lower():
            return True
        if isinstance(link, OSError) and link.errno in TRANSIENT_ERRNOS:
            return True
    return False


def lock_holder(exc: BaseException) -> str | None:
    """Who holds the DuckDB lock that ``exc`` ran into: "PID 4711 (/usr/bin/python3, user x)"."""
    for link in causes(exc):
        holder = _holder_in(f"{link} {getattr(link, 'description', '') or ''}")
        if holder is not None:
            return holder
    return None


def _holder_in(text: str) -> str | None:
    found = LOCK_HOLDER.search(text)
    if found is None:
        return None
    user = f", user {found['user']}" if found["user"] else ""
    return f"PID {found['pid']} ({found['program']}{user})"


def describe_fault(exc: BaseException) -> str:
    """What went wrong, in words: a lock names its holder; anything else is its first line."""
    holder = lock_holder(exc)
    if holder is not None:
        return (f"the warehouse file is locked by another process, {holder}: an analyst's "
                "read-write connection or another run; stop it and run again")
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"


def describe_error(error: SerializableErrorInfo) -> str:
    """:func:`describe_fault` for an error as Dagster stores it (a step's retry or failure)."""
    holder = _holder_in(error.to_string())
    if holder is not None:
        return f"the warehouse file is locked by another process, {holder}"
    first = error.message.strip().splitlines()
    return first[0] if first else error.cls_name or "error"


def _gave_up(exc: BaseException, attempts: int) -> Failure:
    return Failure(description=f"{describe_fault(exc)} (still so after {attempts} attempts)"[:2000],
                   allow_retries=False)


@contextmanager
def classified_faults(retry_number: int | None = None) -> Iterator[None]:
    """Wrap a step body: transient faults propagate (and are retried by :data:`RETRY_POLICY`),
    terminal ones become a ``Failure`` that is never retried. ``retry_number`` (the step
    context's): on the last attempt a transient fault ends the step with what it was (a lock
    names its holder), not with Dagster's "Exceeded max_retries"."""
    last = retry_number is not None and retry_number >= RETRY_POLICY.max_retries
    try:
        yield
    except Failure as exc:
        if exc.allow_retries and not is_transient(exc):
            exc.allow_retries = False
        if exc.allow_retries and last:
            raise _gave_up(exc, retry_number + 1) from exc  # type: ignore[operator]
        raise
    except Exception as exc:
        if is_transient(exc):
            if last:
                raise _gave_up(exc, retry_number + 1) from exc  # type: ignore[operator]
            raise
        raise Failure(
            description=f"{type(exc).__name__}: {exc}"[:2000],
            allow_retries=False,
        ) from exc
