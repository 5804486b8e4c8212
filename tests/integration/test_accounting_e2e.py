"""Accounting in the whole nightly job on demo data: the checks run as Dagster asset checks, the
finance mart equals what the demo's DATEV files say month by month, and a warehouse that no longer
reconciles with its files blocks publication."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date
from decimal import Decimal

import duckdb
from dagster import AssetKey, DagsterInstance

from tests.conftest import PipelineRun, copy_home, use_home

ACCOUNTING_CHECKS = {"reconcile_bookings_to_files", "reconcile_finance_to_bookings",
                     "unmapped_bookings"}


def evaluations(result) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_accounting_checks_ran_and_passed(first_run: PipelineRun) -> None:
    ran = evaluations(first_run.result)
    assert set(ran) >= ACCOUNTING_CHECKS
    for name in ACCOUNTING_CHECKS:
        assert ran[name].passed, (name, ran[name].description)
    assert "3 DATEV file(s) reconcile to the cent" in ran["reconcile_bookings_to_files"].description


def demo_months(run: PipelineRun) -> dict[tuple[str, date], tuple[Decimal, Decimal]]:
    """(cost centre, month) -> (costs, revenues), read from the demo's DATEV files directly:
    debits on 6xxx are costs, credits on 4xxx revenues (the demo books against bank 1800)."""
    out: dict[tuple[str, date], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for path in sorted((run.home / "inbox" / "accounting" / "swm").glob("EXTF_Buchungsstapel_*")):
        year = int(path.stem.rsplit("_", 1)[1])
        lines = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"), newline=""),
                                delimiter=";"))
        for row in lines[2:]:
            if not row:
                continue
            amount = Decimal(row[0].replace(",", "."))
            month = date(year, int(row[9][-2:]), 1)
            key = (row[36], month)
            if row[1] == "S" and row[6].startswith("6"):
                out[key][0] += amount
            if row[1] == "H" and row[6].startswith("4"):
                out[key][1] += amount
    return {k: (v[0], v[1]) for k, v in out.items()}


def test_finance_mart_equals_the_demo_files_month_by_month(first_run: PipelineRun) -> None:
    with duckdb.connect(str(first_run.home / "warehouse" / "build.duckdb"), read_only=True) as con:
        rows = con.sql(
            "select cost_centre, month, sum(costs_eur), sum(revenues_eur), "
            "count(*) filter (where category_type = 'unmapped' or not is_cost_centre_mapped) "
            "from marts.mart_finance_by_cost_centre_month group by all"
        ).fetchall()
    mart = {(r[0], r[1]): (r[2], r[3]) for r in rows}
    assert mart == demo_months(first_run)
    assert sum(r[4] for r in rows) == 0  # every demo booking maps
    assert len(mart) == 9 * 36  # nine cost centres, 36 months


def test_warehouse_that_no_longer_matches_its_files_blocks_publication(
    small_first_run: PipelineRun,
) -> None:
    from orchestration.definitions import defs

    home = copy_home(small_first_run.home, "accounting-tampered")
    published = home / "published" / "marts.duckdb"
    before = published.read_bytes()
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        # One cent lost on one loaded booking: nothing else in the run would notice.
        con.execute("update raw_accounting.bookings set amount_eur = amount_eur - 0.01 "
                    "where source_line = 3")

    # Only what the verdict needs: the models from the bookings to the marts that take money
    # from them (dbt builds just these), their checks, and the publish step; everything else is
    # as the good run left it. (The whole job takes twice as long and shows the same.)
    use_home(home)
    selection = [AssetKey([name]) for name in (
        "stg_accounting__bookings", "int_accounts_categorised", "int_bookings_categorised",
        "mart_finance_by_cost_centre_month", "mart_impact", "published_marts")]
    with DagsterInstance.ephemeral() as instance:
        result = defs.get_job_def("nightly_refresh").execute_in_process(
            instance=instance, raise_on_error=False, asset_selection=selection)

    assert not result.success
    ran = evaluations(result)
    check = ran["reconcile_bookings_to_files"]
    assert not check.passed and check.severity.value == "ERROR"
    assert "loaded differs from file" in check.description
    assert ran["reconcile_finance_to_bookings"].passed  # the mart is true to the (wrong) bookings
    materialised = {
        e.asset_key.to_user_string() for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert "mart_finance_by_cost_centre_month" in materialised
    assert "published_marts" not in materialised
    assert published.read_bytes() == before
