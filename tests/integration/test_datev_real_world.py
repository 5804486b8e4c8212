"""Real-world-shaped DATEV files (``tests/fixtures/datev``, built from the public samples)
through the real dlt pipeline and dbt models, each in an organisation of its own; and a file
whose required column is missing, rejected in a real nightly run that still publishes.

Expected sums are computed straight from each file's text (``file_sums``), not by the reader."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PipelineRun, copy_home, run_nightly
from tests.integration.test_accounting_pipeline import Installation
from tests.unit.test_datev_real_world import CASES, file_sums

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
MISSING = "missing_gegenkonto_column.csv"
# One organisation per file: several of them share Mandant and period, and a later file of the
# same Mandant replaces an earlier one's days.
ORGS = {f"org{i}": case[0] for i, case in enumerate(CASES)}
ACCOUNTS = ("organisation_code,chart,account_from,account_to,category_type,category\n"
            "{org},SKR03,8400,8400,revenue,fees\n")


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    home = tmp_path_factory.mktemp("datev_real_world") / "home"
    for org, name in ORGS.items():
        (home / "inbox" / "accounting" / org).mkdir(parents=True)
        shutil.copy(FIXTURES / name, home / "inbox" / "accounting" / org / name)
        (home / "inbox" / "reference" / org).mkdir(parents=True)
        # The ledermann sample leaves the SKR empty: the organisation declares its chart.
        (home / "inbox" / "reference" / org / "accounts.csv").write_text(
            ACCOUNTS.format(org=org), encoding="utf-8")
    # One organisation maps its cost centre (a new installation has at least one department).
    (home / "inbox" / "reference" / "org0" / "departments.csv").write_text(
        "organisation_code,department_code,department_name,data_steward,is_pilot\n"
        "org0,SB,Schuldnerberatung,K. Brückner,true\n", encoding="utf-8")
    (home / "inbox" / "reference" / "org0" / "cost_centres.csv").write_text(
        "organisation_code,cost_centre,department_code,program_code,kost_field\n"
        "org0,100,SB,,KOST1\n", encoding="utf-8")
    shutil.copy(FIXTURES / MISSING, home / "inbox" / "accounting" / "org4" / MISSING)
    inst = Installation(home)
    inst.load()
    inst.build()
    yield inst


@pytest.mark.parametrize("org", sorted(ORGS))
def test_each_file_loads_with_its_accounts_and_reconciles_to_the_cent(
    installation: Installation, org: str
) -> None:
    name = ORGS[org]
    case = next(c for c in CASES if c[0] == name)
    rows = installation.rows(
        "select account, contra_account, cost_centre_1, amount_eur, debit_credit "
        "from staging.stg_accounting__bookings where organisation_code = '" + org + "' "
        "order by source_line")
    assert [(r[0], r[1], r[2]) for r in rows] == case[3]
    assert all((r[3] > 0) == (r[4] == "S") for r in rows)
    lines, signed, absolute = file_sums(name, *case[1])
    assert (len(rows), sum(r[3] for r in rows), sum(abs(r[3]) for r in rows)) == (
        lines, signed, absolute)


def test_warehouse_and_finance_mart_reconcile(installation: Installation) -> None:
    for check in ("reconcile_bookings_to_files", "reconcile_finance_to_bookings"):
        outcome = installation.check(check)
        assert outcome.passed, outcome.description


def test_file_missing_a_required_column_is_rejected_and_nothing_of_it_loads(
    installation: Installation,
) -> None:
    registry = installation.rows(
        "select outcome, rows_loaded, message from raw_accounting.file_registry "
        f"where source_file like '%{MISSING}'")
    assert len(registry) == 1 and registry[0][:2] == ("rejected", 0)
    assert "Gegenkonto (ohne BU-Schlüssel)" in registry[0][2]
    assert (installation.home / "rejected" / "accounting" / "org4" / MISSING).exists() or any(
        installation.home.rglob(f"rejected/**/{MISSING}"))
    # No booking anywhere has a NULL contra account.
    assert installation.rows("select count(*) from raw_accounting.bookings "
                             "where contra_account is null") == [(0,)]


@pytest.fixture(scope="module")
def night_with_a_broken_file(small_demo_home: Path) -> PipelineRun:
    home = copy_home(small_demo_home, "datev-missing-column")
    shutil.copy(FIXTURES / MISSING, home / "inbox" / "accounting" / "swm" / MISSING)
    return PipelineRun(home, run_nightly(home))


def test_a_rejected_datev_file_does_not_stop_the_nights_publication(
    night_with_a_broken_file: PipelineRun,
) -> None:
    import duckdb

    run = night_with_a_broken_file
    assert run.result.success  # type: ignore[attr-defined]
    reasons = list(run.home.rglob(f"{MISSING}.reason.txt"))
    assert len(reasons) == 1 and "Gegenkonto" in reasons[0].read_text(encoding="utf-8")
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        costs = con.sql("select sum(costs_eur) from mart_finance_by_cost_centre_month "
                        "where organisation_code = 'swm'").fetchall()[0][0]
        delivered = con.sql("select outcome from mart_deliveries "
                            f"where source_file like '%{MISSING}'").fetchall()
    assert costs and costs > 0
    assert delivered == [("rejected",)]
