"""Great Expectations suites on the marts, as blocking Dagster asset checks.

A check that crashes counts as failed (fail closed): a mart nobody could validate is not published.
"""


from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetChecksDefinition,
    AssetKey,
    MetadataValue,
    asset_check,
)

from quality import suites
from warehouse.publish import mart_frame


def _mart_check(mart: str) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey([mart]),
        name=f"gx_{mart}",
        blocking=True,
        description=(
            f"Great Expectations suite for {mart}: not empty, unique key, rates in [0, 1], "
            "counts and money non-negative. Blocking: a failure stops publication."
        ),
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        try:
            result = suites.validate(mart, mart_frame(mart))
        except Exception as exc:  # noqa: BLE001 - fail closed on any crash
            context.log.error(f"Validation of {mart} crashed: {exc!r}")
            return AssetCheckResult(
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                description=f"validation crashed: {exc!r}",
                metadata={"error": MetadataValue.text(repr(exc))},
            )
        return AssetCheckResult(
            passed=result.success,
            severity=AssetCheckSeverity.ERROR,
            description=result.summary(),
            metadata={
                "rows": MetadataValue.int(result.rows),
                "expectations_evaluated": MetadataValue.int(result.evaluated),
                "expectations_failed": MetadataValue.int(len(result.failed)),
                "failures": MetadataValue.json(result.failed),
            },
        )

    return _check


CHECKS = [_mart_check(mart) for mart in suites.MARTS]
