"""Settings from the environment, in one place.

Every knob Datenwerk reads from the environment is named here, with its default and the reason
for it. Paths live in :mod:`warehouse.paths`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# Nothing may phone home: this platform runs where only package registries are reachable, and
# client data must never leave the machine. Set before dlt, dbt, Dagster or GX are imported.
# Settings that name a file or folder (made absolute for child processes).
PATH_SETTINGS = ("DATENWERK_HOME", "DATENWERK_KEY_FILE", "DATENWERK_STEWARDS_FILE",
                 "DATENWERK_DBT_PROJECT_DIR", "DAGSTER_HOME")

_QUIET_ENV = {
    "RUNTIME__DLTHUB_TELEMETRY": "false",
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    # dlt adds `_dlt_load_id` to Arrow batches only when asked; staging needs it to read
    # completed loads only (a killed load leaves rows whose load id is not in `_dlt_loads`).
    "NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID": "true",
    # dlt keeps a copy of every loaded package's rows (Parquet of pseudonymised case data) in
    # its working folder; once the warehouse has them, they are only a second copy to protect.
    "LOAD__DELETE_COMPLETED_JOBS": "true",
}

# Who may read the data directory: "owner" (0700, files 0600) or "group" (0750, files 0640, for
# analysts or a delivery account in the service user's group). Never others: it holds names.
HOME_ACCESS = {"owner": (0o700, 0o077), "group": (0o750, 0o027)}


# The engine that builds the marts: DuckDB on one machine (the default), or Spark over Parquet
# tables in the lake (DATENWERK_HOME/lake/) when a federation outgrows one machine. Each names
# its dbt target in transform/profiles.yml.
ENGINES = {"duckdb": "build", "spark": "spark"}


def engine() -> str:
    """The engine from ``DATENWERK_ENGINE`` (``duckdb`` unless set)."""
    value = os.environ.get("DATENWERK_ENGINE", "duckdb").strip().lower()
    if value not in ENGINES:
        raise ValueError(
            f"DATENWERK_ENGINE must be one of {', '.join(ENGINES)}, got {value!r}")
    return value


# DuckDB's memory inside dbt and dlt's loads (its buffer pool; it spills into the home beyond
# it). DuckDB's own default is 80 % of the machine's memory, and the largest model or load of a
# big installation then holds more than the rest of the run together.
DEFAULT_DUCKDB_MEMORY_LIMIT = "1GB"


def duckdb_memory_limit() -> str:
    """DuckDB's ``memory_limit`` for dbt's builds and dlt's loads, from
    ``DATENWERK_DUCKDB_MEMORY_LIMIT`` (a DuckDB size such as ``1GB`` or ``512MB``)."""
    value = os.environ.get("DATENWERK_DUCKDB_MEMORY_LIMIT", DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", value, re.IGNORECASE):
        raise ValueError("DATENWERK_DUCKDB_MEMORY_LIMIT must be a size such as 1GB or 512MB, "
                         f"got {value!r}")
    return value


def home_access() -> tuple[int, int]:
    """(mode of the data directory, umask of the process) from ``DATENWERK_HOME_ACCESS``."""
    value = os.environ.get("DATENWERK_HOME_ACCESS", "owner").strip().lower()
    if value not in HOME_ACCESS:
        raise ValueError(
            f"DATENWERK_HOME_ACCESS must be one of {', '.join(HOME_ACCESS)}, got {value!r}")
    return HOME_ACCESS[value]


def apply_process_environment() -> None:
    """Set the environment defaults every Datenwerk process needs (idempotent), and keep the
    data directory and every file this process writes from other users."""
    from warehouse import paths

    for name, value in _QUIET_ENV.items():
        os.environ.setdefault(name, value)
    # Child processes start in other folders (the run worker and the code server in the
    # repository, dbt in its project): a relative path would name another folder there.
    for name in PATH_SETTINGS:
        if os.environ.get(name):
            os.environ[name] = str(Path(os.environ[name]).expanduser().resolve())
    os.environ["DATENWERK_HOME"] = str(paths.home())  # the default ./data of this folder too
    paths.secure_home()


def pseudonym_key_from_env() -> str | None:
    """The pseudonymisation key given directly, if any (``DATENWERK_PSEUDONYM_KEY``)."""
    return os.environ.get("DATENWERK_PSEUDONYM_KEY") or None


def federation() -> bool:
    """Whether this installation pools several member organisations (``DATENWERK_FEDERATION``).

    A federation gives each organisation its own pseudonymisation key, derived from the
    installation's key, so that the same client number at two organisations never links, and
    files each department's exports under its organisation (``exports/<org>/<department>/``).
    """
    value = os.environ.get("DATENWERK_FEDERATION", "0").strip().lower()
    if value not in ("0", "1", "false", "true", ""):
        raise ValueError(f"DATENWERK_FEDERATION must be 0 or 1, got {value!r}")
    return value in ("1", "true")


# A federation-level cell is published only when at least this many organisations contribute
# to it: with two, either one subtracts its own figure from the sum and knows the other's.
FEDERATION_MIN_ORGANISATIONS = int(os.environ.get("DATENWERK_FEDERATION_MIN_ORGANISATIONS", "3"))


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

# The contact minutes of a group whose count is hidden are hidden too, and must stay uncertain by
# this share of their value given all published minutes: half, so that 40 hours cannot be told
# from 60 (a total of hours minus the visible parts gives a lone hidden part exactly) ...
MINUTES_PROTECTION = float(os.environ.get("DATENWERK_MINUTES_PROTECTION", "0.5"))
# ... and by at least an hour, the unit the reports show them in.
MINUTES_MARGIN = 60

# A file whose rejected rows exceed this share fails as a whole: that many bad rows mean a wrong
# profile or a broken export, not a few typos.
MAX_REJECT_SHARE = float(os.environ.get("DATENWERK_MAX_REJECT_SHARE", "0.2"))


def future_date_tolerance_days() -> int:
    """How far in the future a delivered date may lie (``DATENWERK_FUTURE_DATE_TOLERANCE_DAYS``).

    7 by default: appointments entered a few days ahead and clocks or time zones that differ by
    a day are normal; a date later than that is a typo (2031 for 2021) that would stretch every
    monthly figure to it, so its row is quarantined.
    """
    value = int(os.environ.get("DATENWERK_FUTURE_DATE_TOLERANCE_DAYS", "7"))
    if value < 0:
        raise ValueError(f"DATENWERK_FUTURE_DATE_TOLERANCE_DAYS must not be negative, got {value}")
    return value


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




def stewards_file() -> str | None:
    """The installation's stewards file (``DATENWERK_STEWARDS_FILE``; default
    ``$DATENWERK_HOME/stewards.yml``), laid over ``orchestration/stewards.yml``."""
    return os.environ.get("DATENWERK_STEWARDS_FILE") or None


def max_publication_age_hours() -> float:
    """Marts count as stale when the last publication is older than this
    (``DATENWERK_MAX_PUBLICATION_AGE_HOURS``). 36 h: one missed nightly run (24 h) plus the
    morning in which someone can still fix it before the next one."""
    return float(os.environ.get("DATENWERK_MAX_PUBLICATION_AGE_HOURS", "36"))


def default_max_days_without_delivery() -> float:
    """Days without a new file after which a department's source is flagged, unless the stewards
    file sets it per department (``DATENWERK_MAX_DAYS_WITHOUT_DELIVERY``): monthly exports + a
    week."""
    return float(os.environ.get("DATENWERK_MAX_DAYS_WITHOUT_DELIVERY", "38"))


def smtp_settings() -> dict[str, str | int | bool] | None:
    """Where failure alerts are mailed (``DATENWERK_SMTP_HOST``/``PORT``/``USER``/``PASSWORD``/
    ``FROM``/``TO`` - comma-separated -, ``DATENWERK_SMTP_STARTTLS=1``); None if no host is set."""
    host = os.environ.get("DATENWERK_SMTP_HOST")
    if not host:
        return None
    return {
        "host": host,
        "port": int(os.environ.get("DATENWERK_SMTP_PORT", "25")),
        "user": os.environ.get("DATENWERK_SMTP_USER", ""),
        "password": os.environ.get("DATENWERK_SMTP_PASSWORD", ""),
        "sender": os.environ.get("DATENWERK_SMTP_FROM", "datenwerk@localhost"),
        "recipients": os.environ.get("DATENWERK_SMTP_TO", ""),
        "starttls": os.environ.get("DATENWERK_SMTP_STARTTLS", "0").lower() in ("1", "true", "yes"),
    }


def alert_webhook() -> str | None:
    """A URL that receives failure alerts as a JSON POST (``DATENWERK_ALERT_WEBHOOK``); the body
    has a ``text`` field, as Slack, Mattermost and Rocket.Chat incoming webhooks expect."""
    return os.environ.get("DATENWERK_ALERT_WEBHOOK") or None


def ui_url() -> str | None:
    """The Dagster UI's address as users reach it (``DATENWERK_UI_URL``, e.g. behind the reverse
    proxy), for links in alerts; None leaves the links out."""
    return (os.environ.get("DATENWERK_UI_URL") or "").rstrip("/") or None


def ui_allowed_hosts() -> list[str]:
    """Host names (``name`` or ``name:port``) the UI answers besides loopback: the names of a
    reverse proxy in front of it (``DATENWERK_UI_ALLOWED_HOSTS``, comma-separated). Requests
    for any other Host, and from any other Origin, are refused (DNS rebinding, cross-site)."""
    raw = os.environ.get("DATENWERK_UI_ALLOWED_HOSTS", "")
    return [h.strip().lower() for h in raw.split(",") if h.strip()]


def fault_point() -> str | None:
    """A named point where a process dies on purpose (``DATENWERK_FAULT_POINT``): only the
    reliability tests set it, to crash real runs where a crash hurts most."""
    return os.environ.get("DATENWERK_FAULT_POINT") or None
