"""Great Expectations suites on the marts, as blocking Dagster asset checks; and the accounting
checks (reconciliation to the cent: blocking; unmapped bookings: warning) from quality.accounting.

A check that crashes counts as failed (fail closed): a mart nobody could validate is not published.
"""

import json
from collections.abc import Callable
from typing import Any

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from quality import accounting as accounting_checks
from quality import suites
from warehouse import paths
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


# --------------------------------------------------------------------------- accounting (issue 4)


def _table_md(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(none)"
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(str(r[n]) for n in names) + " |" for r in rows]
    return "\n".join(lines)


def _accounting_check(
    asset: str, name: str, blocking: bool, description: str, run: Callable[..., Any]
) -> AssetChecksDefinition:
    severity = AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN

    @asset_check(asset=AssetKey([asset]), name=name, blocking=blocking, description=description)
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        try:
            with duckdb.connect(str(paths.build_db()), read_only=True) as con:
                outcome = run(con)
        except Exception as exc:  # noqa: BLE001 - fail closed on any crash
            context.log.error(f"{name} crashed: {exc!r}")
            return AssetCheckResult(
                passed=False,
                severity=severity,
                description=f"check crashed: {exc!r}",
                metadata={"error": MetadataValue.text(repr(exc))},
            )
        metadata: dict[str, Any] = {
            key: MetadataValue.json(json.loads(json.dumps(value, default=str)))
            if isinstance(value, (list, dict)) else MetadataValue.text(str(value))
            for key, value in outcome.metadata.items()
        }
        for key, rows in outcome.tables.items():
            metadata[key] = MetadataValue.md(_table_md(rows))
        return AssetCheckResult(
            passed=outcome.passed,
            severity=severity,
            description=outcome.description[:1000],
            metadata=metadata,
        )

    return _check


ACCOUNTING_CHECKS = [
    _accounting_check(
        "stg_accounting__bookings",
        "reconcile_bookings_to_files",
        blocking=True,
        description=(
            "Per DATEV file and period: lines and signed/absolute sums in the warehouse equal the "
            "file's control totals minus its quarantined lines, to the cent; the bookings in force "
            "are the file's lines on days no later file covers; no day has two files in force. "
            "Blocking: a difference stops publication."
        ),
        run=accounting_checks.reconcile_bookings_to_files,
    ),
    _accounting_check(
        "mart_finance_by_cost_centre_month",
        "reconcile_finance_to_bookings",
        blocking=True,
        description=(
            "Per organisation and month: the finance mart's costs, revenues, net amount and "
            "booking sides equal those computed straight from the bookings, to the cent; the "
            "impact mart's costs and revenues equal the finance mart's. Blocking."
        ),
        run=accounting_checks.reconcile_finance_to_bookings,
    ),
    _accounting_check(
        "mart_finance_by_cost_centre_month",
        "unmapped_bookings",
        blocking=False,
        description=(
            "Warning: profit-and-loss bookings whose account or cost centre maps to nothing (kept "
            "as 'unmapped' in the marts), with their amounts per organisation and code."
        ),
        run=accounting_checks.unmapped_bookings,
    ),
]
CHECKS += ACCOUNTING_CHECKS
