"""The publish step: swap in the analysts' file, only for content whose blocking checks passed.

Two gates, both must open: every blocking check of this run passed (or is not part of it), and
the content of every table the publication depends on has a passing result for each of its
blocking checks, recorded against exactly that content (:mod:`warehouse.gate`). The second gate
does not depend on the run: publishing after a blocked run, from any selection, refuses.
"""


from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from warehouse import gate, marts, paths
from warehouse.checks import CheckResult
from warehouse.publish import publish

from .checks import CHECKS
from .faults import RETRY_POLICY, classified_faults
from .ingestion import WAREHOUSE_POOL
from .transform import DBT_PROJECT, PUBLISHED


def published_mart_names() -> tuple[str, ...]:
    """The marts whose dbt YAML says ``meta.publish: true`` (from the manifest of the code)."""
    return marts.published(DBT_PROJECT.manifest_path)


class PublishBlocked(Exception):
    """A blocking check failed or never reported on the content: nothing is published."""


def _blocking_check_keys() -> list[AssetKey]:
    """Assets that carry a blocking check (besides the marts): publish depends on them, so
    Dagster runs their checks before publish and skips publish if one of them fails."""
    keys = {
        spec.asset_key
        for checks_def in CHECKS
        for spec in checks_def.check_specs
        if spec.blocking
    }
    published = {AssetKey([m]) for m in published_mart_names()}
    return sorted(keys - published, key=lambda k: k.to_user_string())


def run_check_outcomes(context: AssetExecutionContext) -> list[CheckResult]:
    """Every check evaluation of this run so far (dbt tests included), in event order."""
    records = context.instance.get_records_for_run(
        run_id=context.run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=100_000
    ).records
    outcomes = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:
            continue
        evaluation = event.asset_check_evaluation_data
        outcomes.append(
            CheckResult(
                asset_key=evaluation.asset_key.to_user_string(),
                check_name=evaluation.check_name,
                passed=bool(evaluation.passed),
                severity=evaluation.severity.value,
                blocking=evaluation.blocking,
                description=(evaluation.description or "")[:1000],
            )
        )
    return outcomes


def _planned_blocking_checks(context: AssetExecutionContext) -> set[AssetCheckKey]:
    """Blocking checks this run executes: its check selection, else (as Dagster resolves it)
    every check of a selected asset, else every check of the job."""
    graph = context.job_def.asset_layer.asset_graph
    run = context.run
    planned = graph.asset_check_keys
    if run.asset_check_selection is not None:
        planned = run.asset_check_selection
    elif run.asset_selection is not None:
        planned = {key for key in planned if key.asset_key in run.asset_selection}
    # Only checks before publication can block it (not those on what follows).
    upstream = graph.get_ancestor_asset_keys(PUBLISHED)
    return {
        key for key in planned
        if key.asset_key in upstream and graph.get_check_spec(key).blocking
    }


def failed_blocking_checks(
    context: AssetExecutionContext, outcomes: list[CheckResult] | None = None
) -> list[str]:
    """Checks of this run that block publication: failed with severity ERROR, or blocking and
    part of the run but without a result (it crashed or has not run yet): fail closed.

    Dagster itself skips publish when a blocking check on a direct upstream asset fails; this
    covers checks anywhere else in the run (dbt tests and checks on ingestion assets included).
    """
    outcomes = run_check_outcomes(context) if outcomes is None else outcomes
    failed = [
        f"{o.asset_key}:{o.check_name}" for o in outcomes if not o.passed and o.severity == "ERROR"
    ]
    reported = {(o.asset_key, o.check_name) for o in outcomes}
    for key in sorted(_planned_blocking_checks(context), key=lambda k: k.to_user_string()):
        if (key.asset_key.to_user_string(), key.name) not in reported:
            failed.append(f"{key.asset_key.to_user_string()}:{key.name} (no result: crashed?)")
    return failed


def gated_checks() -> dict[str, set[str]]:
    """Blocking checks per table the publication depends on (dbt models and seeds; the dlt
    tables' batch checks hold their loads out of staging instead). From the whole code
    location's graph: the job of a run that selected a subset knows only that subset."""
    from .definitions import defs  # the code location that imports this module

    graph = defs.resolve_asset_graph()
    upstream = graph.get_ancestor_asset_keys(PUBLISHED)
    required: dict[str, set[str]] = {}
    for key in graph.asset_check_keys:
        if key.asset_key in upstream and len(key.asset_key.path) == 1 \
                and graph.get_check_spec(key).blocking:
            required.setdefault(key.asset_key.path[0], set()).add(key.name)
    return required


def checked_outcomes(found: gate.GateVerdict, run: list[CheckResult]) -> list[CheckResult]:
    """What the generation records as its checks: the results on exactly its tables' content,
    and this run's results on anything else (the batches it loaded)."""
    outcomes = [
        CheckResult(asset_key=table, check_name=r.check_name, passed=r.passed,
                     severity=r.severity, blocking=None, description=r.description)
        for table, records in sorted(found.passed.items()) for r in records.values()
    ]
    return outcomes + [o for o in run if o.asset_key not in found.passed]


@asset(
    key=PUBLISHED,
    deps=[*(AssetKey([m]) for m in published_mart_names()), *_blocking_check_keys()],
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY_POLICY,
    description=(
        "The analysts' read-only copy of the marts (published/marts.duckdb): a new generation "
        "(published/generations/), copied and atomically renamed into place, only when every "
        "blocking check of the run passed. The last generations stay for `datenwerk rollback`."
    ),
)
def published_marts(context: AssetExecutionContext) -> MaterializeResult:
    # A blocked publication is terminal; a locked file is retried.
    with classified_faults(context.retry_number):
        failed = failed_blocking_checks(context, run_check_outcomes(context))
        if failed:
            raise PublishBlocked(
                f"not publishing: blocking checks failed in this run: {', '.join(failed)}. "
                f"The last good publication stays in place at {paths.published_db()}."
            )
        found = gate.verdict(gated_checks())
        if found.refusals:
            shown = ", ".join(found.refusals[:20]) + (
                f" and {len(found.refusals) - 20} more" if len(found.refusals) > 20 else "")
            raise PublishBlocked(
                "not publishing: the content in the build database was not checked, or failed "
                f"its checks: {shown}. Run the whole job (datenwerk run) to rebuild and check "
                f"it. The last good publication stays in place at {paths.published_db()}."
            )
        outcomes = checked_outcomes(found, run_check_outcomes(context))
        names = published_mart_names()
        publication = publish(names, run_id=context.run.run_id, checks=outcomes,
                              expected={m: found.fingerprints[m] for m in names
                                        if m in found.fingerprints})
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(publication.path),
            "generation": MetadataValue.text(publication.generation),
            "published_at": MetadataValue.text(publication.published_at.isoformat()),
            "sha256": MetadataValue.text(publication.sha256),
            "checks_passed": MetadataValue.int(sum(o.passed for o in outcomes)),
            "checks_not_passed": MetadataValue.int(sum(not o.passed for o in outcomes)),
            "dagster/row_count": MetadataValue.int(sum(publication.row_counts.values())),
            **{f"rows_{k}": MetadataValue.int(v) for k, v in publication.row_counts.items()},
        }
    )
