"""Freshness: are the analysts' marts recent, and does every department still deliver?

- ``publication_freshness`` (on ``published_marts``, blocking): the last publication in
  ``published/marts.duckdb`` (its ``_publication`` table, the file analysts actually read) is at
  most ``DATENWERK_MAX_PUBLICATION_AGE_HOURS`` (36 h) old. Blocking so that a stale publication
  fails the ``freshness_checks`` run and the failure alert names this check.
- ``delivery_freshness`` (on ``raw_case_management/file_registry``, warning): each department of
  each organisation delivered a file within its ``max_days_without_delivery`` (the installation's
  stewards file, keyed by organisation and department; default
  ``DATENWERK_MAX_DAYS_WITHOUT_DELIVERY``). A warning: one quiet department must not stop
  the others' publication.

Both run after every nightly refresh and on their own schedule (``freshness_checks`` job, every
two hours during the day), which catches the night the refresh did not run at all. Dagster's own
freshness policy on ``published_marts`` shows the same 36 h window in the UI (evaluated by the
daemon from materialisations, so it cannot see a file replaced behind Dagster's back).
"""

from datetime import UTC, datetime, timedelta

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    FreshnessPolicy,
    MetadataValue,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
    in_process_executor,
)

from ingestion import case_management
from ingestion.delivery import present_tables
from warehouse import paths, settings
from warehouse.publish import current_manifest

from .stewards import stewards

PUBLICATION = AssetKey(["published_marts"])
REGISTRY = AssetKey([case_management.DATASET, "file_registry"])


def publication_policy() -> FreshnessPolicy:
    hours = settings.max_publication_age_hours()
    return FreshnessPolicy.time_window(fail_window=timedelta(hours=hours))


def last_publication() -> tuple[datetime, str | None] | None:
    """When the analysts' file was last published or confirmed current (a run that found
    nothing changed, noted in the manifest of the same generation), and by which run; None if
    never published."""
    db = paths.published_db()
    if not db.exists():
        return None
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.sql(
            "select published_at, run_id, generation from main._publication "
            "order by published_at desc limit 1"
        ).fetchall()
    if not rows:
        return None
    published_at, run_id, generation = rows[0]
    manifest = current_manifest() or {}
    checked = manifest.get("checked_unchanged_at")
    if checked and manifest.get("generation") == generation:
        return datetime.fromisoformat(checked).astimezone(UTC), manifest.get("checked_run_id")
    return published_at.astimezone(UTC), run_id


@asset_check(
    asset=PUBLICATION,
    name="publication_freshness",
    blocking=True,
    description=(
        "The analysts' published marts are at most DATENWERK_MAX_PUBLICATION_AGE_HOURS (36 h) "
        "old: a missed nightly run is reported by the next afternoon."
    ),
)
def publication_freshness(context: AssetCheckExecutionContext) -> AssetCheckResult:
    limit = settings.max_publication_age_hours()
    last = last_publication()
    if last is None:
        return AssetCheckResult(
            passed=False, severity=AssetCheckSeverity.ERROR,
            description=f"Nothing has been published yet ({paths.published_db()} is missing).",
        )
    published_at, run_id = last
    age_hours = (datetime.now(UTC) - published_at).total_seconds() / 3600
    fresh = age_hours <= limit
    return AssetCheckResult(
        passed=fresh,
        severity=AssetCheckSeverity.ERROR,
        description=(
            f"Last published or confirmed unchanged {published_at:%Y-%m-%d %H:%M} UTC, "
            f"{age_hours:.1f} h ago "
            f"(limit {limit:g} h)" + ("." if fresh else ": the marts are stale.")
        ),
        metadata={
            "published_at": MetadataValue.timestamp(published_at),
            "age_hours": MetadataValue.float(round(age_hours, 2)),
            "limit_hours": MetadataValue.float(limit),
            "run_id": MetadataValue.text(run_id or ""),
        },
    )


def last_delivery_by_department() -> dict[tuple[str, str], datetime]:
    """The newest completed load of a case-management file, per (organisation, department)."""
    dataset = case_management.DATASET
    if not {"file_registry", "_dlt_loads"} <= present_tables(dataset):
        return {}  # nothing delivered yet (or no case management at all): no department is late
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        rows = con.sql(
            # source_file is case_management/<organisation>/<department>/<file>
            f"select split_part(r.source_file, '/', 2) as organisation_code, "
            f"split_part(r.source_file, '/', 3) as department_code, "
            f"max(r.registered_at) as last_at "
            f'from "{dataset}".file_registry as r '
            f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
            f"group by 1, 2"
        ).fetchall()
    return {(org, code): last_at.astimezone(UTC) for org, code, last_at in rows if org and code}


@asset_check(
    asset=REGISTRY,
    name="delivery_freshness",
    blocking=False,
    description=(
        "Every department of every organisation delivered a case-management file within its "
        "max_days_without_delivery (the installation's stewards file, keyed by organisation and "
        "department). Warning: the steward is asked to send the export."
    ),
)
def delivery_freshness(context: AssetCheckExecutionContext) -> AssetCheckResult:
    now = datetime.now(UTC)
    config = stewards().departments
    default_days = settings.default_max_days_without_delivery()
    last = last_delivery_by_department()
    rows, late = [], []
    for org, code in sorted(set(config) | set(last)):
        steward = config.get((org, code))
        limit = steward.max_days_without_delivery if steward else default_days
        seen = last.get((org, code))
        days = (now - seen).total_seconds() / 86400 if seen else None
        is_late = days is None or days > limit
        if is_late:
            late.append(f"{org}/{code}")
        rows.append(
            f"| {org} | {code} | {seen:%Y-%m-%d} | {days:.0f} | {limit:g} | "
            f"{'LATE' if is_late else 'ok'} |"
            if seen else f"| {org} | {code} | never | - | {limit:g} | LATE |"
        )
    table = ("| organisation | department | last delivery | days ago | limit (days) | status |\n"
             "|---|---|---|---|---|---|\n")
    return AssetCheckResult(
        passed=not late,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"No recent delivery from {', '.join(late)}." if late
            else f"All {len(rows)} departments delivered within their limit."
        ),
        metadata={
            "late_departments": MetadataValue.json(late),
            "deliveries": MetadataValue.md(table + "\n".join(rows)),
        },
    )


FRESHNESS_CHECKS = [publication_freshness, delivery_freshness]

freshness_job = define_asset_job(
    name="freshness_checks",
    selection=AssetSelection.checks(*FRESHNESS_CHECKS),
    description="Are the published marts fresh, and did every department deliver? (checks only)",
    executor_def=in_process_executor,
)

freshness_schedule = ScheduleDefinition(
    name="freshness_checks_daytime",
    job=freshness_job,
    # Every two hours in the day: a missed night is reported the same afternoon (36 h after the
    # last good publication), and nobody is paged at night.
    cron_schedule="15 7-19/2 * * *",
    execution_timezone="Europe/Berlin",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Freshness checks every two hours from 07:15 to 19:15 Berlin time.",
)
