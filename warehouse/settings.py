"""Settings from the environment, in one place.

Every knob Datenwerk reads from the environment is named here, with its default and the reason
for it. Paths live in :mod:`warehouse.paths`.
"""

from __future__ import annotations

import os

# Nothing may phone home: this platform runs where only package registries are reachable, and
# client data must never leave the machine. Set before dlt, dbt, Dagster or GX are imported.
_QUIET_ENV = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    # dlt adds `_dlt_load_id` to Arrow batches only when asked; staging needs it to read
    # completed loads only (a killed load leaves rows whose load id is not in `_dlt_loads`).
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
}


def apply_process_environment() -> None:
    """Set the environment defaults every Datenwerk process needs (idempotent)."""
    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)


def pseudonym_key_from_env() -> str | None:
    """The pseudonymisation key given directly, if any (``DATENWERK_PSEUDONYM_KEY``)."""
    return os.environ.get("DATENWERK_PSEUDONYM_KEY") or None


def key_file_override() -> str | None:
    """A key file outside the data directory (``DATENWERK_KEY_FILE``), if set."""
    return os.environ.get("DATENWERK_KEY_FILE") or None


# Official statistics suppress counts below 3; we default to 5 because our cells (department x
# program x region x year) are small enough that 3-4 clients can still be recognised locally.
SUPPRESSION_THRESHOLD = int(os.environ.get("DATENWERK_SUPPRESSION_THRESHOLD", "5"))

# Every suppressed open-data cell must stay uncertain by at least this many cases given all
# published cells: as wide as the threshold, so "." never narrows a cell to fewer values than
# a primary suppression hides.
PROTECTION_MARGIN = int(
    os.environ.get("DATENWERK_PROTECTION_MARGIN", str(SUPPRESSION_THRESHOLD)))

# A file whose rejected rows exceed this share fails as a whole: that many bad rows mean a wrong
# profile or a broken export, not a few typos.
MAX_REJECT_SHARE = float(os.environ.get("DATENWERK_MAX_REJECT_SHARE", "0.2"))


def settle_seconds() -> float:
    """Quiet period before an inbox file counts as complete (``DATENWERK_SETTLE_SECONDS``).

    0 by default: the delivery protocol is write-then-rename, which needs none.
    """
    return float(os.environ.get("DATENWERK_SETTLE_SECONDS", "0"))


def keep_generations() -> int:
    """How many publications stay available for rollback (``DATENWERK_KEEP_GENERATIONS``).

    7 by default: a week of nightly runs, so a problem noticed on Monday can still go back to
    the Friday before; each generation is one copy of the marts.
    """
    value = int(os.environ.get("DATENWERK_KEEP_GENERATIONS", "7"))
    if value < 1:
        raise ValueError(f"DATENWERK_KEEP_GENERATIONS must be at least 1, got {value}")
    return value


def row_count_band() -> float:
    """Allowed relative change of a mart's row count against the last publication
    (``DATENWERK_ROW_COUNT_BAND``, default 0.3): a night's deliveries move a mart by a few
    percent; a third more or fewer rows means a lost, doubled or truncated delivery."""
    return float(os.environ.get("DATENWERK_ROW_COUNT_BAND", "0.3"))
