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
    assert {"gx_mart_outcomes", "gx_mart_impact", "gx_fct_cases"} <= names
    assert any(n.startswith("unique_combination") for n in names)  # dbt tests are checks too
    failed = [(ev.asset_key.to_user_string(), ev.check_name) for ev in evaluations if not ev.passed]
    assert failed == []


def _assert_rates(merged: pd.DataFrame, pairs: tuple[tuple[str, str], ...], abs_: float) -> None:
    for truth_col, col in pairs:
        for expected, actual in zip(merged[truth_col], merged[col], strict=True):
            if pd.isna(expected) or math.isinf(expected):
                assert pd.isna(actual), col
            else:
                assert float(actual) == pytest.approx(expected, abs=abs_), col


def test_outcome_mart_equals_ground_truth(first_run: PipelineRun) -> None:
    """The yearly rows of mart_outcomes (9 programs x 3 years) equal the generator's truth."""
    mart = published(first_run, "select * from mart_outcomes where period_type = 'year'")
    merged = truth(first_run).merge(mart, on=["program_code", "year"], suffixes=("_truth", ""))
    assert len(merged) == len(truth(first_run)) >= 9 * 3
    for col in ("cases_closed", "planned_ends", "goals_rated", "goals_achieved",
                "assessed_pairs", "improved_pairs", "cases_gas"):
        assert (merged[col] == merged[f"n_{col}"]).all(), col
    # Published rates have 4 decimals, mean T-scores 2: equal to the truth up to that rounding.
    _assert_rates(merged, (("planned_end_rate_truth", "planned_end_rate"),
                           ("goal_attainment_rate_truth", "goal_attainment_rate"),
                           ("share_improved_truth", "share_improved")), 5e-5 + 1e-6)
    _assert_rates(merged, (("mean_gas_t", "mean_gas_t_score"),), 5e-3 + 1e-6)
    assert (merged["department_code_truth"] == merged["department_code"]).all()
    # The marts show real variation, not one constant rate.
    assert merged["planned_end_rate"].nunique() > 5
    assert merged["mean_gas_t_score"].nunique() > 5
    assert merged["n_cases_closed"].sum() > 50


def test_months_and_quarters_add_up_to_years(first_run: PipelineRun) -> None:
    """Counts of events (started, closed, planned ends, goals) per month and per quarter sum to
    the year's; the truth fixes the years."""
    sums = published(first_run, """
        select period_type, program_code, year, sum(n_cases_started) as started,
            sum(n_cases_closed) as closed, sum(n_planned_ends) as planned,
            sum(n_goals_rated) as rated, sum(n_assessed_pairs) as pairs, count(*) as periods
        from mart_outcomes group by all order by all""")
    by_type = {t: g.drop(columns=["period_type", "periods"]).reset_index(drop=True)
               for t, g in sums.groupby("period_type")}
    assert sums.groupby("period_type")["periods"].sum().to_dict() == {
        "month": 9 * 3 * 12, "quarter": 9 * 3 * 4, "year": 9 * 3}
    pd.testing.assert_frame_equal(by_type["month"], by_type["year"])
    pd.testing.assert_frame_equal(by_type["quarter"], by_type["year"])


def test_impact_mart_equals_ground_truth(first_run: PipelineRun) -> None:
    mart = published(first_run, "select * from mart_impact")
    merged = truth(first_run).merge(mart, on=["program_code", "year"], suffixes=("_truth", ""))
    assert len(merged) == len(truth(first_run))
    for col in ("contacts", "clients_reached", "planned_ends", "goals_achieved", "cases_started",
                "cases_accepted"):
        assert (merged[col] == merged[f"n_{col}"]).all(), col
    assert (merged["contact_minutes_truth"] == merged["contact_minutes"]).all()
    _assert_rates(merged, (("acceptance_rate_truth", "acceptance_rate"),), 5e-5 + 1e-6)
    for col in ("costs_eur", "revenues_eur"):
        truth_col = f"{col}_truth"
        assert (merged[truth_col].round(2) == merged[col].astype(float).round(2)).all(), col
    assert merged["costs_eur"].astype(float).sum() > 0
    _assert_rates(merged, (("cost_per_client", "cost_per_client_reached_eur"),
                           ("cost_per_planned_end", "cost_per_planned_end_eur"),
                           ("cost_per_goal_achieved", "cost_per_goal_achieved_eur")), 0.01)
    hours = merged["contact_minutes"] / 60
    per_hour = merged["costs_eur_truth"] / hours
    _assert_rates(merged.assign(per_hour=per_hour),
                  (("per_hour", "cost_per_contact_hour_eur"),), 0.01)


def test_srs_report_carries_the_impact_figures(first_run: PipelineRun) -> None:
    """One row per program and year; resources, outputs and outcomes equal the truth."""
    report = published(first_run, "select * from mart_srs_report")
    merged = truth(first_run).merge(report, on=["program_code", "year"], suffixes=("_truth", ""))
    assert len(merged) == len(report) == len(truth(first_run))
    assert (merged["costs_eur_truth"].round(2) == merged["costs_eur"].astype(float)).all()
    assert (merged["clients_reached"] == merged["n_clients_reached"]).all()
    assert (merged["planned_ends"] == merged["n_planned_ends"]).all()
    _assert_rates(merged, (("share_improved_truth", "share_improved"),), 5e-5 + 1e-6)
    _assert_rates(merged, (("mean_gas_t", "mean_gas_t_score"),), 5e-3 + 1e-6)
    last = merged.sort_values("year").groupby("program_code").tail(2)
    for _, rows in last.groupby("program_code"):
        previous, current = rows.iloc[0], rows.iloc[1]
        assert current["n_clients_reached_previous_year"] == previous["n_clients_reached"]


def test_published_file_is_the_only_thing_analysts_need(first_run: PipelineRun) -> None:
    listed = published(first_run, "select table_name from information_schema.tables")
    tables = set(listed["table_name"])
    assert {"fct_cases", "fct_goals", "mart_outcomes", "mart_impact", "mart_srs_report",
            "dim_date", "_publication"} <= tables
    cases = published(
        first_run, "select count(*) as n, count(distinct case_id) as k from fct_cases"
    )
    assert cases["n"][0] == cases["k"][0] > 100
