"""Quality checks as Dagster asset checks, each declared blocking or warning.

- ``gx_batch_<table>`` (blocking) on each dlt asset of a standard entity and of the DATEV
  bookings: the rows of the batch the asset loaded (its latest materialisation's dlt loads that
  are completed), before staging merges them. A failure skips dbt in the same run.
- ``gx_<mart>`` (blocking) on every mart of the dbt manifest with ``meta.gx``: suites derived
  from the column naming conventions plus the extras of its ``meta.gx`` (:mod:`quality.suites`).
- ``gx_<mart>_row_count`` (warning): the row count lies within a band of the last publication.
- The accounting checks of :mod:`quality.accounting` (reconciliation blocking, unmapped warning).

Every GX result lands in the Data Docs under ``$DATENWERK_HOME/quality/data_docs`` (linked from
each check's metadata). A check that crashes counts as failed with its declared severity (fail
closed): a batch or mart nobody could validate is neither merged nor published.
"""

import json
from collections.abc import Callable
from pathlib import Path
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
from quality import batches, holds, suites
from quality.gx import SuiteResult
from warehouse import gate, paths

from .faults import describe_fault
from .transform import DBT_PROJECT


def _severity(blocking: bool) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN


def _docs_metadata(result: SuiteResult | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "data_docs": MetadataValue.path(str(paths.data_docs_dir() / "index.html")),
    }
    if result is not None and result.page:
        metadata["data_docs_page"] = MetadataValue.path(result.page)
    return metadata


def _crashed(context: AssetCheckExecutionContext, name: str, blocking: bool,
             exc: Exception) -> AssetCheckResult:
    context.log.error(f"{name} crashed: {exc!r}")
    return AssetCheckResult(
        passed=False,
        severity=_severity(blocking),
        description=f"check crashed (counted as failed): {describe_fault(exc)}"[:1000],
        metadata={"error": MetadataValue.text(repr(exc)[:2000]), **_docs_metadata()},
    )


def _suite_result(result: SuiteResult, blocking: bool,
                  extra: dict[str, Any] | None = None) -> AssetCheckResult:
    return AssetCheckResult(
        passed=result.success,
        severity=_severity(blocking),
        description=result.summary(),
        metadata={
            "rows": MetadataValue.int(result.rows),
            "expectations_evaluated": MetadataValue.int(result.evaluated),
            "expectations_failed": MetadataValue.int(len(result.failed)),
            "failed_expectations": MetadataValue.json(result.failed),
            "notes": MetadataValue.text("; ".join(result.notes) or "-"),
            **(extra or {}),
            **_docs_metadata(result),
        },
    )


def recorded(context: AssetCheckExecutionContext, asset: AssetKey, name: str,
             result: AssetCheckResult) -> AssetCheckResult:
    """The result, recorded against the checked table's current content (the publish gate
    reads these records, :mod:`warehouse.gate`); checks on dlt tables are gated by holds."""
    if len(asset.path) == 1:
        gate.record([(asset.path[0], name, result.passed, result.severity.value,
                      result.description or "")], run_id=context.run.run_id)
    return result


def _gx_check(asset: AssetKey, name: str, blocking: bool, description: str,
              run: Callable[[AssetCheckExecutionContext], tuple[SuiteResult, dict[str, Any]]]
              ) -> AssetChecksDefinition:
    @asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        try:
            result, extra = run(context)
        except Exception as exc:  # noqa: BLE001 - fail closed on any crash
            return recorded(context, asset, name, _crashed(context, name, blocking, exc))
        return recorded(context, asset, name, _suite_result(result, blocking, extra))

    return _check


def batch_load_ids(context: AssetCheckExecutionContext, key: AssetKey) -> list[str]:
    """The dlt load ids of the asset's latest materialisation (in a normal run: this run's).

    dagster-dlt records each load job's file under ``.../loaded/<load_id>/completed_jobs/``.
    """
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return []
    jobs = event.asset_materialization.metadata.get("jobs")
    ids = set()
    for job in (jobs.value if jobs is not None else None) or []:
        folder = Path(str(job.get("file_path", ""))).parent.parent.name
        if not folder.replace(".", "").isdigit():
            raise RuntimeError(f"no dlt load id in the load job path {job.get('file_path')!r}")
        ids.add(folder)
    return sorted(ids)


def _batch_check(dataset: str, table: str, name: str) -> AssetChecksDefinition:
    key = AssetKey([dataset, table])

    def run(context: AssetCheckExecutionContext) -> tuple[SuiteResult, dict[str, Any]]:
        load_ids = batch_load_ids(context, key)
        try:
            result = batches.validate_batch(dataset, table, load_ids, run_name=context.run.run_id)
        except Exception:
            _hold(context, load_ids, "the check crashed")
            raise
        extra: dict[str, Any] = {"load_ids": MetadataValue.json(load_ids)}
        if not result.success:
            held = _hold(context, load_ids, result.summary())
            extra["held_loads"] = MetadataValue.json(held)
        return result, extra

    def _hold(context: AssetCheckExecutionContext, load_ids: list[str], reason: str) -> list[str]:
        # Never merged by a later run either, until released (quality/holds.py).
        held = holds.hold(load_ids, dataset=dataset, table=table, check=name, reason=reason)
        if held:
            context.log.error(
                f"{name} failed: holding load(s) {', '.join(held)} out of staging until a data "
                f"engineer releases them (`datenwerk held`, `datenwerk release LOAD_ID`)."
            )
        return held

    what = "DATEV booking lines" if table == "bookings" else f"{table} (data standard v1)"
    return _gx_check(
        key, name, True,
        f"Great Expectations suite on the new batch of {what}: required fields, codes, ranges, "
        "pseudonyms, rules and keys, on the rows of this run's completed dlt loads. Blocking: "
        "a failure stops staging (dbt) and publication in this run, and holds the loads out of "
        "staging in later runs until released (`datenwerk release`).",
        run,
    )


def _mart_check(mart: suites.MartSpec) -> AssetChecksDefinition:
    def run(context: AssetCheckExecutionContext) -> tuple[SuiteResult, dict[str, Any]]:
        spec = suites.mart_spec(mart.name)  # the manifest of the code that runs
        return suites.validate(mart.name, suites.read_mart(mart.name), run_name=context.run.run_id,
                               spec=spec), {}

    return _gx_check(
        AssetKey([mart.name]), f"gx_{mart.name}", True,
        f"Great Expectations suite for {mart.name}: unique keys, rates in [0, 1], counts, "
        "durations and costs non-negative (from the column names), plus the extras of its "
        "meta.gx. Blocking: a failure stops publication.",
        run,
    )


def _row_count_check(mart: suites.MartSpec) -> AssetChecksDefinition:
    def run(context: AssetCheckExecutionContext) -> tuple[SuiteResult, dict[str, Any]]:
        with duckdb.connect(str(paths.build_db()), read_only=True) as con:
            rows = con.sql(f'select count(*) from marts."{mart.name}"').fetchall()[0][0]
        return suites.validate_row_count(mart.name, rows, run_name=context.run.run_id), {}

    return _gx_check(
        AssetKey([mart.name]), f"gx_{mart.name}_row_count", False,
        f"Warning: the row count of {mart.name} lies within DATENWERK_ROW_COUNT_BAND (default "
        "±30 %) of its rows in the last publication; skipped on the first publication.",
        run,
    )


MARTS = suites.discover_marts(DBT_PROJECT.manifest_path)
BATCH_CHECKS = [_batch_check(ds, table, name)
                for (ds, table), name in batches.batch_tables().items()]
MART_CHECKS = [_mart_check(m) for m in MARTS] + [_row_count_check(m) for m in MARTS]
CHECKS = BATCH_CHECKS + MART_CHECKS




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
            return recorded(context, AssetKey([asset]), name, AssetCheckResult(
                passed=False,
                severity=severity,
                description=f"check crashed: {describe_fault(exc)}"[:1000],
                metadata={"error": MetadataValue.text(repr(exc))},
            ))
        metadata: dict[str, Any] = {
            key: MetadataValue.json(json.loads(json.dumps(value, default=str)))
            if isinstance(value, (list, dict)) else MetadataValue.text(str(value))
            for key, value in outcome.metadata.items()
        }
        for key, rows in outcome.tables.items():
            metadata[key] = MetadataValue.md(_table_md(rows))
        return recorded(context, AssetKey([asset]), name, AssetCheckResult(
            passed=outcome.passed,
            severity=severity,
            description=outcome.description[:1000],
            metadata=metadata,
        ))

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


@asset_check(
    asset=AssetKey(["published_marts"]),
    name="no_held_loads",
    blocking=False,
    description=(
        "Warning while loads are held out of staging by a failed batch check: the publication "
        "leaves their rows out until a corrected file arrives or the load is released "
        "(`datenwerk held`, `datenwerk release LOAD_ID`)."
    ),
)
def no_held_loads() -> AssetCheckResult:
    current = holds.held()
    return AssetCheckResult(
        passed=not current,
        severity=AssetCheckSeverity.WARN,
        description=(
            "no loads are held" if not current else
            f"{len(current)} load(s) held out of this publication: "
            + "; ".join(f"{h.load_id} ({h.dataset}: {', '.join(h.tables)})" for h in current)
        )[:1000],
        metadata={
            "held_loads": MetadataValue.json([
                {"load_id": h.load_id, "dataset": h.dataset, "tables": list(h.tables),
                 "checks": list(h.checks), "held_at": h.held_at} for h in current
            ]),
        },
    )


CHECKS.append(no_held_loads)
