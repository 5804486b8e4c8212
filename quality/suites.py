"""Great Expectations suites for the published marts, as code.

GX's SQL engine does not work on DuckDB (duckdb-engine: every metric fails with "list index out of
range"), so each mart is read into a pandas DataFrame and validated there. Relational checks over
big tables (relationships, composite keys on raw data) are dbt tests instead.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import pandas as pd

from warehouse import settings

log = logging.getLogger(__name__)

RATE_COLUMNS = {
    "mart_outcomes": ["planned_end_rate", "goal_attainment_rate", "share_improved"],
}
NON_NEGATIVE_COLUMNS = {
    "mart_outcomes": [
        "n_cases_closed", "n_planned_ends", "n_goals_rated", "n_goals_achieved",
        "n_assessed_pairs", "n_improved_pairs",
    ],
    "mart_impact": [
        "costs_eur", "n_contacts", "contact_minutes", "n_clients_reached",
        "cost_per_client_reached_eur", "cost_per_planned_end_eur", "cost_per_goal_achieved_eur",
    ],
    "fct_cases": ["n_contacts", "contact_minutes", "duration_days"],
}
KEYS = {
    "mart_outcomes": [
        "organisation_code", "department_code", "program_code", "period_type", "period_start",
    ],
    "mart_impact": ["organisation_code", "program_code", "year"],
    "fct_cases": ["organisation_code", "case_id"],
}
# The marts that are validated (and published). Each gets one suite.
MARTS = tuple(KEYS)


@dataclass
class SuiteResult:
    """The outcome of one suite on one batch, in a form Dagster metadata can carry."""

    mart: str
    success: bool
    rows: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    evaluated: int = 0

    def summary(self) -> str:
        if self.success:
            return f"{self.mart}: all {self.evaluated} expectations met on {self.rows} rows"
        parts = [
            f"{f['expectation']}({f.get('column') or ','.join(f.get('columns', []))}): "
            f"{f.get('unexpected_count')} unexpected"
            for f in self.failed
        ]
        return f"{self.mart}: {len(self.failed)} of {self.evaluated} expectations failed: " + "; ".join(parts)


@lru_cache(maxsize=1)
def _context() -> Any:
    settings.apply_process_environment()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    context.data_sources.add_pandas("marts")
    return context


def build_suite(mart: str) -> Any:
    """The expectation suite of a mart: not empty, unique key, key not null, rates in [0, 1],
    counts and money non-negative."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"{mart}_suite")
    suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(min_value=1))
    suite.add_expectation(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=KEYS[mart]))
    for col in KEYS[mart]:
        suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=col))
    for col in RATE_COLUMNS.get(mart, []):
        suite.add_expectation(
            gx.expectations.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1)
        )
    for col in NON_NEGATIVE_COLUMNS.get(mart, []):
        suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(column=col, min_value=0))
    return suite


def validate(mart: str, frame: pd.DataFrame) -> SuiteResult:
    """Validate one mart's rows against its suite."""
    context = _context()
    source = context.data_sources.get("marts")
    asset_name = f"{mart}_frame"
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except KeyError:
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_def.get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(build_suite(mart))
    failed = []
    for r in result.results:
        if not r.success:
            kwargs = r.expectation_config.kwargs
            failed.append(
                {
                    "expectation": r.expectation_config.type,
                    "column": kwargs.get("column"),
                    "columns": kwargs.get("column_list", []),
                    "unexpected_count": (r.result or {}).get("unexpected_count"),
                    "observed_value": str((r.result or {}).get("observed_value", ""))[:200],
                    "exception": (r.exception_info or {}).get("exception_message")
                    if isinstance(r.exception_info, dict) else None,
                }
            )
    return SuiteResult(
        mart=mart,
        success=bool(result.success),
        rows=len(frame),
        failed=failed,
        evaluated=len(result.results),
    )
