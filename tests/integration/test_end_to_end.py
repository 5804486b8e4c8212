"""The whole pipeline, in process, on demo data: what materialised, what passed, what the
marts say compared with the generator's own truth (computed in Python from its records)."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey

from tests.conftest import PipelineRun


def published(run: PipelineRun, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.sql(sql).df()


def truth(run: PipelineRun) -> pd.DataFrame:
    return pd.read_csv(run.home / "demo_truth" / "by_program_year.csv")


def test_run_succeeds_and_materialises_every_asset(first_run: PipelineRun) -> None:
    from orchestration.definitions import defs

    result = first_run.result
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    expected = set(defs.resolve_asset_graph().get_all_asset_keys())
    materialised = {
        e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert expected - materialised == set()
    for key in ("raw_case_management/contacts", "raw_accounting/bookings", "published_marts"):
        assert AssetKey(key.split("/")) in materialised


def test_every_check_passed(first_run: PipelineRun) -> None:
    evaluations = [
        e.event_specific_data
        for e in first_run.result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    names = {ev.check_name for ev in evaluations}
    assert {"gx_mart_outcomes_by_program", "gx_mart_impact_by_program", "gx_fct_cases"} <= names
    assert any(n.startswith("unique_combination") for n in names)  # dbt tests are checks too
    failed = [(ev.asset_key.to_user_string(), ev.check_name) for ev in evaluations if not ev.passed]
    assert failed == []


def test_outcome_mart_equals_ground_truth(first_run: PipelineRun) -> None:
    mart = published(first_run, "select * from mart_outcomes_by_program")
    merged = truth(first_run).merge(mart, on=["program_code", "year"], suffixes=("_truth", ""))
    assert len(merged) == len(truth(first_run)) >= 9 * 3
    for col in ("cases_closed", "planned_ends", "goals_rated", "goals_achieved",
                "assessed_pairs", "improved_pairs"):
        assert (merged[f"{col}_truth"] == merged[col]).all(), col
    for col in ("planned_end_rate", "goal_attainment_rate", "share_improved"):
        for expected, actual in zip(merged[f"{col}_truth"], merged[col], strict=True):
            if pd.isna(expected):
                assert pd.isna(actual), col
            else:
                assert actual == pytest.approx(expected, abs=1e-6), col  # truth file has 6 decimals
    # The marts show real variation, not one constant rate.
    assert merged["planned_end_rate"].nunique() > 5
    assert merged["cases_closed"].sum() > 50


def test_impact_mart_equals_ground_truth(first_run: PipelineRun) -> None:
    mart = published(first_run, "select * from mart_impact_by_program")
    merged = truth(first_run).merge(mart, on=["program_code", "year"], suffixes=("_truth", ""))
    assert len(merged) == len(truth(first_run))
    for col in ("contacts", "contact_minutes", "clients_reached"):
        assert (merged[f"{col}_truth"] == merged[col]).all(), col
    for col in ("costs_eur", "revenues_eur"):
        assert (merged[f"{col}_truth"].round(2) == merged[col].astype(float).round(2)).all(), col
    assert merged["costs_eur"].astype(float).sum() > 0
    for truth_col, col in (("cost_per_client", "cost_per_client_eur"),
                           ("cost_per_planned_end", "cost_per_planned_end_eur")):
        for expected, actual in zip(merged[truth_col], merged[col], strict=True):
            if pd.isna(expected) or math.isinf(expected):
                assert pd.isna(actual), col
            else:
                assert float(actual) == pytest.approx(expected, abs=0.01), col


def test_published_file_is_the_only_thing_analysts_need(first_run: PipelineRun) -> None:
    tables = set(published(first_run, "select table_name from information_schema.tables")["table_name"])
    assert {"fct_cases", "mart_outcomes_by_program", "mart_impact_by_program", "_publication"} <= tables
    cases = published(first_run, "select count(*) as n, count(distinct case_id) as k from fct_cases")
    assert cases["n"][0] == cases["k"][0] > 100
