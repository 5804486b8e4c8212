"""Freshness: are the analysts' marts recent, and does every department still deliver?

- ``publication_freshness`` (on ``published_marts``, blocking): the last publication in
  ``published/marts.duckdb`` (its ``_publication`` table, the file analysts actually read) is at
  most ``DATENWERK_MAX_PUBLICATION_AGE_HOURS`` (36 h) old. Blocking so that a stale publication
  fails the ``freshness_checks`` run and the failure alert names this check.
- ``delivery_freshness`` (on ``raw_case_management/file_registry``, warning): each department of
  each organisation delivered a file within its ``max_days_without_delivery`` (the installation's
  stewards file, keyed by organisation and department; default
  ``DATENWERK_MAX_DAYS_WITHOUT_DELIVERY``), and every entity it delivers within the same limit
  (an export that stopped carrying contacts still delivers files), or the ``entities`` its
  stewards entry names. A warning: one quiet department must not stop the others' publication.
  Its steward gets one German reminder per overdue delivery (:func:`deliveries.remind_overdue`).

Both run after every nightly refresh and on their own schedule (``freshness_checks`` job, every
two hours during the day), which catches the night the refresh did not run at all. Dagster's own
freshness policy on ``published_marts`` shows the same 36 h window in the UI (evaluated by the
daemon from materialisations, so it cannot see a file replaced behind Dagster's back).
"""

from datetime import UTC, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    FreshnessPolicy,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from ingestion import case_management
from ingestion.delivery import last_delivery_by_department, last_load_by_entity
from warehouse import paths, settings
from warehouse.checks import CheckResult
from warehouse.publish import last_publication

from .checks import fail_closed_check
from .deliveries import Overdue, remind_overdue
from .stewards import stewards

PUBLICATION = AssetKey(["published_marts"])
REGISTRY = AssetKey([case_management.DATASET, "file_registry"])


def publication_policy() -> FreshnessPolicy:
    hours = settings.max_publication_age_hours()
    return FreshnessPolicy.time_window(fail_window=timedelta(hours=hours))


def _publication_age(context: AssetCheckExecutionContext) -> CheckResult:
    limit = settings.max_publication_age_hours()
    last = last_publication()
    if last is None:
        return CheckResult(
            passed=False,
            description=f"Nothing has been published yet ({paths.published_db()} is missing).",
        )
    published_at, run_id = last
    age_hours = (datetime.now(UTC) - published_at).total_seconds() / 3600
    fresh = age_hours <= limit
    return CheckResult(
        passed=fresh,
        description=(
            f"Last published or confirmed unchanged {published_at:%Y-%m-%d %H:%M} UTC, "
            f"{age_hours:.1f} h ago "
            f"(limit {limit:g} h)" + ("." if fresh else ": the marts are stale.")
        ),
        metadata={
            "published_at": published_at,
            "age_hours": round(age_hours, 2),
            "limit_hours": float(limit),
            "run_id": run_id or "",
        },
    )


publication_freshness = fail_closed_check(
    PUBLICATION, "publication_freshness", True,
    "The analysts' published marts are at most DATENWERK_MAX_PUBLICATION_AGE_HOURS (36 h) "
    "old: a missed nightly run is reported by the next afternoon.",
    _publication_age,
)


def _delivery_ages(context: AssetCheckExecutionContext) -> CheckResult:
    now = datetime.now(UTC)
    config = stewards().departments
    default_days = settings.default_max_days_without_delivery()
    last = last_delivery_by_department(case_management.DATASET)
    by_entity = last_load_by_entity(case_management.DATASET)
    rows, late, quiet, stopped, overdue = [], [], [], [], []
    for org, code in sorted(set(config) | set(last)):
        steward = config.get((org, code))
        limit = steward.max_days_without_delivery if steward else default_days
        seen = last.get((org, code))
        days = (now - seen).total_seconds() / 86400 if seen else None
        is_late = days is None or days > limit
        # A department that still delivers, but whose exports stopped carrying an entity (or
        # never carried one its steward file expects): its contacts, say, are old or missing.
        loaded = by_entity.get((org, code), {})
        expected = (steward.expected_entities if steward and steward.expected_entities
                    else tuple(e for e in case_management.ENTITIES if e in loaded))
        missing = [] if is_late else [
            (entity, loaded.get(entity)) for entity in expected
            if entity not in loaded or (now - loaded[entity]).total_seconds() / 86400 > limit]
        if is_late:
            late.append(f"{org}/{code}")
            quiet.append(f"{org}/{code}")
            overdue.append(Overdue(org, code, limit, seen, None, seen))
        elif missing:
            late.append(f"{org}/{code}")
            for entity, at in missing:
                stopped.append(f"{org}/{code}: {entity} "
                               + (f"last {at:%Y-%m-%d}" if at else "never"))
                overdue.append(Overdue(org, code, limit, seen, entity, at))
        rows.append({
            "organisation": org, "department": code,
            "last delivery": f"{seen:%Y-%m-%d}" if seen else "never",
            "days ago": f"{days:.0f}" if days is not None else "-",
            "limit (days)": f"{limit:g}",
            "entities not delivered": ", ".join(
                f"{e} (" + (f"last {at:%Y-%m-%d}" if at else "never") + ")"
                for e, at in missing) or "-",
            "status": "LATE" if is_late else "INCOMPLETE" if missing else "ok",
        })
    reminded = remind_overdue(overdue, context.log.warning)
    parts = ([f"No recent delivery from {', '.join(quiet)}."] if quiet else []) + (
        [f"Still delivering, but not every entity: {'; '.join(stopped)}."] if stopped else [])
    return CheckResult(
        passed=not late,
        description=(" ".join(parts) if late
                     else f"All {len(rows)} departments delivered within their limit."),
        metadata={"late_departments": late, "entities_not_delivered": stopped,
                  "stewards_reminded": reminded},
        tables={"deliveries": rows},
    )


delivery_freshness = fail_closed_check(
    REGISTRY, "delivery_freshness", False,
    "Every department of every organisation delivered a case-management file within its "
    "max_days_without_delivery (the installation's stewards file, keyed by organisation and "
    "department), and every entity it delivers (or its 'entities' in that file) within the "
    "same limit. Warning: the steward is asked, once per overdue delivery, by a German e-mail "
    "to send the export.",
    _delivery_ages,
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
