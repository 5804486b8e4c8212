"""Every source is optional: real nightly runs on installations that deliver only some sources.

Each installation is built from the small demo (or a second demo drawn with another seed, for
further organisations) with parts of the inbox taken away, and run with the real
``nightly_refresh`` job. The marts must hold exactly what was delivered: the figures are taken
from the demo generator's ground truth and from the delivered files themselves, never from the
warehouse. Marts whose inputs are absent are published, empty.

- case management only (and of the reference data only departments.csv and programs.csv);
- accounting only (and of the reference data only cost_centres.csv and accounts.csv);
- reference data only;
- one installation holding the demo organisation, a second organisation that delivers only
  case-management exports, and a third that delivers only accounting (``three_organisations``
  in ``conftest.py``: the open-data and disclosure tests read it too).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from tests.conftest import PipelineRun, copy_home, run_nightly, use_home

CASE_MARTS = ("fct_cases", "fct_goals", "fct_assessment_change")
FINANCE = "mart_finance_by_cost_centre_month"
DATASETS = ("raw_case_management", "raw_accounting", "raw_reference")


def _prune(home: Path, keep_sources: set[str], keep_reference: set[str] | None = None) -> Path:
    inbox = home / "inbox"
    for source in ("case_management", "accounting", "reference"):
        if source not in keep_sources:
            shutil.rmtree(inbox / source)
    if keep_reference is not None:
        for path in (inbox / "reference").glob("*/*"):
            if path.name not in keep_reference:
                path.unlink()
    return home


def _run(home: Path) -> PipelineRun:
    result = run_nightly(home)
    assert result.success, [  # type: ignore[attr-defined]
        (e.step_key, str(e.step_failure_data.error)[-1500:])
        for e in result.all_events if e.is_step_failure]  # type: ignore[attr-defined]
    return PipelineRun(home, result)


def published(run: PipelineRun, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.sql(sql).df()


def count(run: PipelineRun, table: str, where: str = "true") -> int:
    return int(published(run, f"select count(*) as n from {table} where {where}")["n"][0])


def truth(home: Path) -> tuple[dict, pd.DataFrame]:
    counts = json.loads((home / "demo_truth" / "counts.json").read_text(encoding="utf-8"))
    by_program = pd.read_csv(home / "demo_truth" / "by_program_year.csv")
    return counts, by_program


def datev_lines(path: Path) -> int:
    """Booking lines of a demo DATEV file, counted in its text: all lines but the header and
    the headings."""
    with path.open(encoding="cp1252", newline="") as fh:
        return sum(1 for _ in csv.reader(fh, delimiter=";")) - 2


def without_data(run: PipelineRun) -> list[str]:
    from warehouse import datasets

    use_home(run.home)
    return datasets.without_data(DATASETS)


def assert_finance_equals_truth(run: PipelineRun, org: str, by_program: pd.DataFrame) -> None:
    """Costs and revenues per program and year in the finance mart equal the ground truth."""
    mart = published(run, f"""
        select program_code, year, sum(costs_eur) as costs, sum(revenues_eur) as revenues
        from {FINANCE} where organisation_code = '{org}' and program_code is not null
        group by all""")
    merged = by_program.merge(mart, on=["program_code", "year"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for truth_col, mart_col in (("costs_eur", "costs"), ("revenues_eur", "revenues")):
        cents = [(Decimal(f"{t:.2f}"), Decimal(f"{m:.2f}"))
                 for t, m in zip(merged[truth_col], merged[mart_col], strict=True)]
        assert all(t == m for t, m in cents), merged[[truth_col, mart_col]]


@pytest.fixture(scope="module")
def case_management_only(small_demo_home: Path) -> Iterator[PipelineRun]:
    home = _prune(copy_home(small_demo_home, "cm-only"), {"case_management", "reference"},
                  {"departments.csv", "programs.csv"})
    yield _run(home)


def test_case_management_only_publishes_its_cases_and_an_empty_finance_mart(
    case_management_only: PipelineRun, capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestration.cli import print_sources_without_data

    counts, _ = truth(case_management_only.home)
    assert count(case_management_only, "fct_cases") == counts["total"]["cases"]
    assert count(case_management_only, "fct_goals") == counts["total"]["goals"]
    for dept, by_entity in counts["by_department"].items():
        assert count(case_management_only, "fct_cases",
                     f"department_code = '{dept}'") == by_entity["cases"], dept
    assert count(case_management_only, FINANCE) == 0
    assert count(case_management_only, "dim_cost_centre") == 0
    assert without_data(case_management_only) == ["raw_accounting"]
    print_sources_without_data()  # the line `datenwerk run` prints
    assert capsys.readouterr().out.startswith("No data from: accounting (")


@pytest.fixture(scope="module")
def accounting_only(small_demo_home: Path) -> Iterator[PipelineRun]:
    # Of the reference data only what the finance figures need: the cost centres and accounts.
    home = _prune(copy_home(small_demo_home, "accounting-only"), {"accounting", "reference"},
                  {"cost_centres.csv", "accounts.csv"})
    yield _run(home)


def test_accounting_only_publishes_its_bookings_and_empty_case_marts(
    accounting_only: PipelineRun,
) -> None:
    counts, by_program = truth(accounting_only.home)
    files = sorted((accounting_only.home / "inbox" / "accounting").glob("*/EXTF_Buchungsstapel*"))
    lines = sum(datev_lines(f) for f in files)
    with duckdb.connect(str(accounting_only.home / "warehouse" / "build.duckdb"),
                        read_only=True) as con:
        loaded = con.sql("select count(*) from staging.stg_accounting__bookings").fetchall()[0][0]
    assert loaded == lines == counts["total"]["bookings"]
    assert_finance_equals_truth(accounting_only, "swm", by_program)
    for mart in CASE_MARTS:
        assert count(accounting_only, mart) == 0, mart
    # The yearly spine shows every program the money names, with no case in it.
    assert published(accounting_only, """
        select sum(n_cases_closed) + sum(n_goals_rated) + sum(n_assessed_pairs) as n
        from mart_outcomes""")["n"][0] == 0
    # Reach needs contact figures, none were delivered: empty (unknown), never 0.
    impact = published(accounting_only, """
        select count(n_clients_reached) as known, count(*) as n from mart_impact""")
    assert impact["known"][0] == 0 and impact["n"][0] > 0
    assert without_data(accounting_only) == ["raw_case_management"]


@pytest.fixture(scope="module")
def reference_only(small_demo_home: Path) -> Iterator[PipelineRun]:
    yield _run(_prune(copy_home(small_demo_home, "reference-only"), {"reference"}))


def test_reference_only_publishes_the_dimensions_and_empty_marts(
    reference_only: PipelineRun,
) -> None:
    reference = reference_only.home / "inbox" / "reference" / "swm"
    for table, name in (("dim_department", "departments.csv"), ("dim_program", "programs.csv"),
                        ("dim_cost_centre", "cost_centres.csv")):
        with (reference / name).open(encoding="utf-8") as fh:
            assert count(reference_only, table) == sum(1 for _ in csv.DictReader(fh)), table
    for mart in (*CASE_MARTS, "mart_outcomes", FINANCE, "mart_impact"):
        assert count(reference_only, mart) == 0, mart
    assert without_data(reference_only) == ["raw_case_management", "raw_accounting"]


def test_each_organisation_gets_exactly_what_it_delivered(
    three_organisations: PipelineRun, small_demo_home: Path, session_root: Path,
) -> None:
    run = three_organisations
    demo_counts, demo_by_program = truth(small_demo_home)
    second_counts, second_by_program = truth(session_root / "second-demo")
    assert count(run, "fct_cases", "organisation_code = 'swm'") == demo_counts["total"]["cases"]
    assert count(run, "fct_cases", "organisation_code = 'beratung'") == (
        second_counts["by_department"]["SB"]["cases"])
    assert count(run, "fct_cases", "organisation_code = 'kasse'") == 0
    assert count(run, FINANCE, "organisation_code = 'beratung'") == 0
    assert_finance_equals_truth(run, "swm", demo_by_program)
    assert_finance_equals_truth(
        run, "kasse", second_by_program[second_by_program["year"] == 2024])
    assert without_data(run) == []


def test_cost_per_planned_end_keeps_each_organisations_departments_apart(
    three_organisations: PipelineRun, small_demo_home: Path, session_root: Path,
) -> None:
    """Example query 02 grouped by department code alone: in this installation swm's SB and
    beratung's SB were one row, their planned ends added together and divided into swm's costs
    alone. Each organisation's department is a row of its own now, its costs and planned ends
    those of the ground truth (beratung delivers no accounting, kasse no cases)."""
    query = (Path(__file__).parents[2] / "warehouse" / "queries"
             / "02_cost_per_planned_end_by_department.sql").read_text(encoding="utf-8")
    found = published(three_organisations, query)
    _, demo = truth(small_demo_home)
    _, second = truth(session_root / "second-demo")
    expected: dict[tuple[str, str, int], tuple[Decimal, int]] = {}
    for org, by_program, costs, ends in (
            ("swm", demo, True, True),
            ("beratung", second[second["department_code"] == "SB"], False, True),
            ("kasse", second[second["year"] == 2024], True, False)):
        for (code, year), group in by_program.groupby(["department_code", "year"]):
            expected[(org, code, int(year))] = (
                Decimal(f"{group['costs_eur'].sum() if costs else 0:.2f}"),
                int(group["planned_ends"].sum()) if ends else 0)
    got = {(r.organisation_code, r.department_code, int(r.year)): (
        Decimal(f"{0 if pd.isna(r.costs_eur) else r.costs_eur:.2f}"), int(r.n_planned_ends))
        for r in found.itertuples()}
    assert len(got) == len(found)  # one row per organisation, department and year
    assert {k for k in got if k[1] == "SB"} >= {("swm", "SB", 2024), ("beratung", "SB", 2024)}
    assert {k: v for k, v in got.items() if v != (0, 0)} == {
        k: v for k, v in expected.items() if v != (0, 0)}


def test_example_queries_by_department_keep_each_organisations_departments_apart(
    three_organisations: PipelineRun, small_demo_home: Path, session_root: Path,
) -> None:
    """Example queries 05 (improvement by problem area) and 11 (whom we reach) added swm's SB
    and beratung's SB together; now each organisation's department has its rows, with the
    ground truth's cases started and assessed pairs."""
    folder = Path(__file__).parents[2] / "warehouse" / "queries"
    demo_counts, demo = truth(small_demo_home)
    second_counts, second = truth(session_root / "second-demo")
    reach = published(three_organisations, (folder / "11_who_we_reach.sql").read_text(
        encoding="utf-8")).groupby(["organisation_code", "department_code"])["n_cases_started"]
    assert reach.sum().to_dict() == {
        **{("swm", code): n["cases"] for code, n in demo_counts["by_department"].items()},
        ("beratung", "SB"): second_counts["by_department"]["SB"]["cases"]}
    pairs = published(three_organisations, (folder / "05_share_improved_by_dimension.sql")
                      .read_text(encoding="utf-8"))
    got = pairs.groupby(["organisation_code", "department_code", "year"])[
        "n_assessed_pairs"].sum()
    expected = {(org, code, year): int(n) for org, by_program in (
        ("swm", demo), ("beratung", second[second["department_code"] == "SB"]))
        for (code, year), n in by_program.groupby(["department_code", "year"])[
            "assessed_pairs"].sum().items()}
    assert {k: int(v) for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}


def test_example_queries_by_program_keep_each_organisations_programs_apart(
    three_organisations: PipelineRun, small_demo_home: Path, session_root: Path,
) -> None:
    """Example queries 01 (planned-end rate this year and last), 06 (GAS T-score by quarter),
    08 (cost per client and contact hour), 09 (Wirkungstreppe) and 10 (funder report) showed
    a program by its code (or name) alone: swm's SB-ALLG and beratung's SB-ALLG were two rows
    nobody could tell apart. Each row now names its organisation and department, one row per
    program (and year or quarter), with the ground truth's figures of that organisation's
    program: closed cases, GAS cases and T-scores, clients reached, contacts and costs."""
    folder = Path(__file__).parents[2] / "warehouse" / "queries"
    _, demo = truth(small_demo_home)
    _, second = truth(session_root / "second-demo")
    # beratung delivers the second demo's SB cases and no bookings; kasse the bookings of
    # 2024 alone: costs, no cases
    beratung = second[second["department_code"] == "SB"].assign(
        organisation_code="beratung", costs_eur=0)
    kasse = second[second["year"] == 2024][["department_code", "program_code", "year",
                                            "costs_eur"]].assign(organisation_code="kasse")
    expected = pd.concat([demo.assign(organisation_code="swm"), beratung, kasse]).fillna(0)
    key = ["organisation_code", "department_code", "program_code"]
    by_program = expected.set_index([*key, "year"])

    def query(name: str) -> pd.DataFrame:
        found = published(three_organisations, (folder / name).read_text(encoding="utf-8"))
        assert set(key) <= set(found.columns), (name, list(found.columns))
        return found

    def truth_of(row: pd.Series, year: int, column: str) -> float:
        return float(by_program[column].get((*row[key], year), 0))

    def one_row_per(found: pd.DataFrame, name: str, *more: str) -> None:
        assert not found.duplicated([*key, *more]).any(), name
        # both organisations' SB-ALLG, each its own row
        programs = set(found[key].itertuples(index=False, name=None))
        assert {("swm", "SB", "SB-ALLG"), ("beratung", "SB", "SB-ALLG")} <= programs, name

    this_year = query("01_planned_end_rate_this_year_vs_last.sql")
    one_row_per(this_year, "01")
    for _, row in this_year.iterrows():
        assert (row["n_cases_closed"], row["previous_year_n_cases_closed"]) == (
            truth_of(row, row["year"], "cases_closed"),
            truth_of(row, row["year"] - 1, "cases_closed")), row.to_dict()

    quarters = query("06_gas_t_score_by_quarter.sql")
    one_row_per(quarters, "06", "period_start")
    quarters["year"] = pd.to_datetime(quarters["period_start"]).dt.year
    quarters["t_sum"] = quarters["mean_gas_t_score"] * quarters["n_cases_gas"]
    years = quarters.groupby([*key, "year"])[["n_cases_gas", "t_sum"]].sum()
    gas = by_program[by_program["cases_gas"] > 0]
    assert years["n_cases_gas"].to_dict() == gas["cases_gas"].to_dict()
    # the year's mean from its quarters' means, each rounded to a tenth
    assert ((years["t_sum"] / years["n_cases_gas"] - gas["mean_gas_t"]).abs() < 0.05).all()

    for name, columns in (
            ("08_cost_per_client_and_contact_hour.sql",
             {"n_clients_reached": "clients_reached", "costs_eur": "costs_eur"}),
            ("09_wirkungstreppe_by_program.sql",
             {"n_clients_reached": "clients_reached", "n_contacts": "contacts"}),
            ("10_funder_report.sql",
             {"n_clients_reached": "clients_reached", "n_cases_closed": "cases_closed"})):
        found = query(name)
        one_row_per(found, name[:2])
        for _, row in found.iterrows():
            for column, in_truth in columns.items():
                value = 0 if pd.isna(row[column]) else float(row[column])
                assert value == pytest.approx(
                    truth_of(row, row["year"], in_truth)), (name, column, row.to_dict())
