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
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterLogManager,
    MetadataValue,
    asset_check,
    multi_asset_check,
)

from ingestion import accounting, case_management
from quality import accounting as accounting_checks
from quality import batches, suites
from warehouse import gate, holds, paths
from warehouse.checks import CheckResult
from warehouse.publish import mart_row_count

from .deliveries import Problem, problem_rows, problems
from .faults import describe_fault
from .transform import DBT_PROJECT, PUBLISHED, recorded_check, same_inputs_since


def _severity(blocking: bool) -> AssetCheckSeverity:
    return AssetCheckSeverity.ERROR if blocking else AssetCheckSeverity.WARN


def _docs_metadata(result: CheckResult | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "data_docs": MetadataValue.path(str(paths.data_docs_dir() / "index.html")),
    }
    if result is not None and result.page:
        metadata["data_docs_page"] = MetadataValue.path(result.page)
    return metadata


def _table_md(rows: list[dict[str, object]]) -> str:
    if not rows:
        return "(none)"
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(str(r[n]) for n in names) + " |" for r in rows]
    return "\n".join(lines)


def _metadata_value(value: Any) -> Any:
    """A plain value of a :class:`CheckResult`'s metadata as Dagster metadata of its kind."""
    if isinstance(value, bool):
        return MetadataValue.text(str(value))
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return MetadataValue.float(value)
    if isinstance(value, datetime):
        return MetadataValue.timestamp(value)
    if isinstance(value, list | dict):
        return MetadataValue.json(json.loads(json.dumps(value, default=str)))
    return MetadataValue.text(str(value))


def _gx_metadata(result: CheckResult) -> dict[str, Any]:
    return {
        "rows": MetadataValue.int(result.rows),
        "expectations_evaluated": MetadataValue.int(result.evaluated),
        "expectations_failed": MetadataValue.int(len(result.failed)),
        "failed_expectations": MetadataValue.json(result.failed),
        "notes": MetadataValue.text("; ".join(result.notes) or "-"),
    }


def _dagster_result(result: CheckResult, blocking: bool, gx: bool,
                    **ids: Any) -> AssetCheckResult:
    metadata: dict[str, Any] = _gx_metadata(result) if gx else {}
    metadata.update({key: _metadata_value(value) for key, value in result.metadata.items()})
    metadata.update({key: MetadataValue.md(_table_md(rows))
                     for key, rows in result.tables.items()})
    if gx:
        metadata.update(_docs_metadata(result))
    return AssetCheckResult(passed=result.passed, severity=_severity(blocking),
                            description=result.summary()[:1000], metadata=metadata, **ids)


def _crashed(log: DagsterLogManager, name: str, blocking: bool, exc: Exception, gx: bool,
             **ids: Any) -> AssetCheckResult:
    log.error(f"{name} crashed: {exc!r}")
    return AssetCheckResult(
        **ids,
        passed=False,
        severity=_severity(blocking),
        description=f"check crashed (counted as failed): {describe_fault(exc)}"[:1000],
        metadata={"error": MetadataValue.text(repr(exc)[:2000]),
                  **(_docs_metadata() if gx else {})},
    )


# Assets with checks that are not tables of build.duckdb: nothing there to record against.
NOT_BUILT = frozenset({PUBLISHED})


def recorded(context: AssetCheckExecutionContext, asset: AssetKey, name: str,
             result: AssetCheckResult) -> AssetCheckResult:
    """The result, recorded against the checked table's current content (the publish gate
    reads these records, :mod:`warehouse.gate`); checks on dlt tables are gated by holds, and
    those on the publication itself are not about a table of the build."""
    if len(asset.path) == 1 and asset not in NOT_BUILT:
        gate.record([(asset.path[0], name, result.passed, result.severity.value,
                      result.description or "")], run_id=context.run.run_id)
    return result


def evaluate(log: DagsterLogManager, name: str, blocking: bool, run: Callable[[], CheckResult],
             *, gx: bool = False, **ids: Any) -> AssetCheckResult:
    """The one fail-closed evaluation of every check: ``run``'s :class:`CheckResult` as a Dagster
    result; a crash counts as failed with the declared severity. ``gx`` adds the expectation
    counts and the Data Docs links; ``ids`` (``asset_key``, ``check_name``) name the check where
    an asset yields it itself."""
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - fail closed on any crash
        return _crashed(log, name, blocking, exc, gx, **ids)
    return _dagster_result(result, blocking, gx, **ids)


@dataclass(frozen=True)
class FailClosedCheck:
    """One check of ``asset``: ``run`` through :func:`evaluate`, the result recorded for the
    publish gate. ``on_content_only``: the result depends on nothing but the table's content,
    so a table a build after new loads kept, or built again with the same content, reports the
    result recorded on that content by the same code (saying which run checked it)."""

    asset: AssetKey
    name: str
    blocking: bool
    description: str
    run: Callable[[AssetCheckExecutionContext], CheckResult]
    gx: bool = False
    on_content_only: bool = True

    @property
    def key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset, self.name)

    def spec(self) -> AssetCheckSpec:
        return AssetCheckSpec(self.name, asset=self.asset, description=self.description,
                              blocking=self.blocking)

    def result(self, context: AssetCheckExecutionContext) -> AssetCheckResult:
        """This check's result in the run of ``context``."""
        run_id = context.run.run_id
        since = (same_inputs_since(context.instance, self.asset, run_id)
                 if self.on_content_only else None)
        if since is not None:
            kept = recorded_check(self.asset, self.name, run_id, since)
            if kept is not None:  # the same content passed (or failed) this check before
                return kept
        result = evaluate(context.log, self.name, self.blocking, lambda: self.run(context),
                          gx=self.gx, asset_key=self.asset, check_name=self.name)
        return recorded(context, self.asset, self.name, result)


def fail_closed_check(asset: AssetKey, name: str, blocking: bool, description: str,
                      run: Callable[[AssetCheckExecutionContext], CheckResult], *,
                      gx: bool = False, on_content_only: bool = True) -> AssetChecksDefinition:
    """An asset check of its own step (:class:`FailClosedCheck`)."""
    check = FailClosedCheck(asset, name, blocking, description, run, gx, on_content_only)

    @asset_check(asset=asset, name=name, blocking=blocking, description=description)
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        return check.result(context)

    return _check


def fail_closed_checks(name: str, description: str,
                       checks: Sequence[FailClosedCheck]) -> AssetChecksDefinition:
    """Checks of several assets in one step (each its own check key, severity and blocking):
    a step per check costs Dagster's start and end of a step each. Every selected check is
    evaluated before a blocking failure fails the step, which keeps what follows from running.
    The assets must be built by one step (here: the dbt build), or a step that skips one of
    them would skip the checks of all."""
    by_key = {check.key: check for check in checks}

    @multi_asset_check(specs=[check.spec() for check in checks], name=name,
                       description=description, can_subset=True)
    def _checks(context: AssetCheckExecutionContext) -> Iterator[AssetCheckResult]:
        for key, check in by_key.items():
            if key in context.selected_asset_check_keys:
                yield check.result(context)

    return _checks


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

    def run(context: AssetCheckExecutionContext) -> CheckResult:
        load_ids = batch_load_ids(context, key)
        try:
            result = batches.validate_batch(dataset, table, load_ids, run_name=context.run.run_id)
        except Exception:
            _hold(context, load_ids, "the check crashed")
            raise
        result.metadata["load_ids"] = load_ids
        if not result.passed:
            result.metadata["held_loads"] = _hold(context, load_ids, result.summary())
        return result

    def _hold(context: AssetCheckExecutionContext, load_ids: list[str], reason: str) -> list[str]:
        # Never merged by a later run either, until released (warehouse/holds.py).
        held = holds.hold(load_ids, dataset=dataset, table=table, check=name, reason=reason)
        if held:
            context.log.error(
                f"{name} failed: holding load(s) {', '.join(held)} out of staging until a data "
                f"engineer releases them (`datenwerk held`, `datenwerk release LOAD_ID`)."
            )
        return held

    what = "DATEV booking lines" if table == "bookings" else f"{table} (data standard v1)"
    return fail_closed_check(
        key, name, True,
        f"Great Expectations suite on the new batch of {what}: required fields, codes, ranges, "
        "pseudonyms, rules and keys, on the rows of this run's completed dlt loads. Blocking: "
        "a failure stops staging (dbt) and publication in this run, and holds the loads out of "
        "staging in later runs until released (`datenwerk release`).",
        run, gx=True,
    )


def _mart_check(mart: suites.MartSpec) -> FailClosedCheck:
    def run(context: AssetCheckExecutionContext) -> CheckResult:
        spec = suites.mart_spec(mart.name)  # the manifest of the code that runs
        return suites.validate_stored(mart.name, run_name=context.run.run_id, spec=spec)

    return FailClosedCheck(
        AssetKey([mart.name]), f"gx_{mart.name}", True,
        f"Great Expectations suite for {mart.name}: unique keys, rates in [0, 1], counts, "
        "durations and costs non-negative (from the column names), plus the extras of its "
        "meta.gx. Blocking: a failure stops publication.",
        run, gx=True,
    )


def _row_count_check(mart: suites.MartSpec) -> FailClosedCheck:
    def run(context: AssetCheckExecutionContext) -> CheckResult:
        return suites.validate_row_count(mart.name, mart_row_count(mart.name),
                                         run_name=context.run.run_id)

    return FailClosedCheck(
        AssetKey([mart.name]), f"gx_{mart.name}_row_count", False,
        f"Warning: the row count of {mart.name} lies within DATENWERK_ROW_COUNT_BAND (default "
        "±30 %) of its rows in the last publication; skipped on the first publication.",
        run, gx=True, on_content_only=False,  # compared with the publication, which moves on
    )


def _accounting_check(asset: str, name: str, blocking: bool, description: str,
                      run: Callable[[duckdb.DuckDBPyConnection], CheckResult]
                      ) -> FailClosedCheck:
    def on_build_db(context: AssetCheckExecutionContext) -> CheckResult:
        with duckdb.connect(str(paths.build_db()), read_only=True) as con:
            return run(con)

    return FailClosedCheck(AssetKey([asset]), name, blocking, description, on_build_db)


def _held_loads(context: AssetCheckExecutionContext) -> CheckResult:
    current = holds.held()
    return CheckResult(
        passed=not current,
        description=(
            "no loads are held" if not current else
            f"{len(current)} load(s) held out of this publication: "
            + "; ".join(f"{h.load_id} ({h.dataset}: {', '.join(h.tables)})" for h in current)
        ),
        metadata={
            "held_loads": [
                {"load_id": h.load_id, "dataset": h.dataset, "tables": list(h.tables),
                 "checks": list(h.checks), "held_at": h.held_at} for h in current
            ],
        },
    )


def _deliveries_check(dataset: str) -> AssetChecksDefinition:
    def run(context: AssetCheckExecutionContext) -> CheckResult:
        db = paths.build_db()
        found: list[Problem] = []
        if db.exists():
            with duckdb.connect(str(db), read_only=True) as con:
                found = problems(con, dataset, latest_per_file=True)
        return CheckResult(
            passed=not found,
            description=(f"{len(found)} delivered file(s) rejected or with rows set aside."
                         if found else "Every file's latest delivery loaded completely."),
            metadata={"deliveries_with_problems": len(found),
                      "delivery_problems": problem_rows(found)},
            tables={"files": problem_rows(found)},
        )

    return fail_closed_check(
        AssetKey([dataset, "file_registry"]), "deliveries_accepted", False,
        "The latest delivery of every file loaded completely. Warning when a file was "
        "rejected or had rows set aside: its steward was e-mailed; reasons in "
        "protected/reports/.",
        run,
    )


MARTS = suites.discover_marts(DBT_PROJECT.manifest_path)
# The checks of the tables dbt built: one step after the build runs them all.
BUILT_TABLE_CHECKS = [
    *(_mart_check(m) for m in MARTS),
    *(_row_count_check(m) for m in MARTS),
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
CHECKS = [
    *(_batch_check(ds, table, name) for (ds, table), name in batches.batch_tables().items()),
    fail_closed_checks(
        "built_table_checks",
        "The checks of the tables dbt built (Great Expectations suites and row counts of the "
        "marts, the accounting reconciliations), each with its own severity.",
        BUILT_TABLE_CHECKS,
    ),
    fail_closed_check(
        PUBLISHED, "no_held_loads", False,
        "Warning while loads are held out of staging by a failed batch check: the publication "
        "leaves their rows out until a corrected file arrives or the load is released "
        "(`datenwerk held`, `datenwerk release LOAD_ID`).",
        _held_loads,
    ),
    *(_deliveries_check(ds) for ds in (case_management.DATASET, accounting.DATASET)),
]
