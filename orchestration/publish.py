"""The publish step: after every blocking check of the run passed, swap in the analysts' file."""


from dagster import (
    AssetExecutionContext,
    AssetKey,
    DagsterEventType,
    MaterializeResult,
    MetadataValue,
    asset,
)

from warehouse import paths
from warehouse.publish import publish

from .faults import RETRY_POLICY, classified_faults
from .ingestion import WAREHOUSE_POOL

PUBLISHED_MARTS = (
    "fct_cases",
    "fct_goal_attainment",
    "fct_assessment_change",
    "mart_outcomes_by_program",
    "mart_impact_by_program",
    "mart_deliveries",
    "mart_finance_by_cost_centre_month",
)


class PublishBlocked(Exception):
    """A blocking check of this run failed: nothing is published."""


def failed_blocking_checks(context: AssetExecutionContext) -> list[str]:
    """Names of checks evaluated in this run that failed with severity ERROR.

    Dagster skips the step when a blocking check on a direct upstream asset fails; this also
    covers checks anywhere else in the run (dbt tests included), and fails closed.
    """
    records = context.instance.get_records_for_run(
        run_id=context.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    ).records
    failed = []
    for record in records:
        evaluation = record.event_log_entry.dagster_event.event_specific_data  # type: ignore[union-attr]
        if not evaluation.passed and evaluation.severity.value == "ERROR":
            failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return failed


@asset(
    key=AssetKey(["published_marts"]),
    deps=[AssetKey([m]) for m in PUBLISHED_MARTS],
    group_name="publish",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY_POLICY,
    description=(
        "The analysts' read-only copy of the marts (published/marts.duckdb), written to a new "
        "file and atomically renamed into place, only when every blocking check passed."
    ),
)
def published_marts(context: AssetExecutionContext) -> MaterializeResult:
    with classified_faults():  # a blocked publication is terminal; a locked file is retried
        failed = failed_blocking_checks(context)
        if failed:
            raise PublishBlocked(
                f"not publishing: blocking checks failed in this run: {', '.join(failed)}. "
                f"The last good publication stays in place at {paths.published_db()}."
            )
        publication = publish(PUBLISHED_MARTS, run_id=context.run_id)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(publication.path),
            "published_at": MetadataValue.text(publication.published_at.isoformat()),
            "dagster/row_count": MetadataValue.int(sum(publication.row_counts.values())),
            **{f"rows_{k}": MetadataValue.int(v) for k, v in publication.row_counts.items()},
        }
    )
