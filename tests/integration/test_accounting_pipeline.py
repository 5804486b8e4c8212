"""DATEV files through the real dlt pipelines and the real dbt models into the finance mart, and
the accounting checks on the result, on a small installation of its own.

Organisations (each with its own mapping in the reference inbox):

- ``muster``: SKR 04 from the file header, KOST1, default chart ranges only. Bookings of January
  and February 2024 (one on an unmapped cost centre, one without cost centre, one on an account
  no range covers), then a corrected re-delivery of February alone.
- ``ledermann``: the public sample; the header leaves the SKR empty, the organisation declares
  SKR 03 in its accounts.csv; its account labels are delivered too.
- ``verein42``: SKR 42 with 5-digit accounts, tax sphere in KOST1, departments in KOST2.
- ``juli``: fiscal year July-June with one line outside the period (quarantined).

Expected figures are worked out by hand from the fixture files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from quality import accounting as checks
from tests.conftest import use_home

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
REFERENCE = {
    "muster": {
        "departments.csv": "organisation_code,department_code,department_name,data_steward,"
                           "is_pilot\nmuster,SB,Schuldnerberatung,K. Brückner,true\n",
        "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                        "muster,SB-ALLG,SB,Allgemeine Schuldnerberatung\n",
        "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,"
                            "kost_field\n"
                            "muster,1100,SB,SB-ALLG,KOST1\n",
    },
    "ledermann": {
        "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                        "ledermann,SKR03,8400,8400,revenue,fees\n",
    },
    "verein42": {
        "departments.csv": "organisation_code,department_code,department_name,data_steward,"
                           "is_pilot\nverein42,BER,Beratung,A. Muster,false\n"
                           "verein42,VERW,Verwaltung,B. Muster,false\n",
        "programs.csv": "organisation_code,program_code,department_code,program_name\n"
                        "verein42,BER-ALLG,BER,Allgemeine Beratung\n",
        "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,"
                            "kost_field\n"
                            "verein42,BER,BER,BER-ALLG,KOST2\nverein42,VERW,VERW,,KOST2\n",
        "accounts.csv": "organisation_code,chart,account_from,account_to,category_type,category\n"
                        "verein42,SKR42,60000,61999,cost,personnel\n"
                        "verein42,SKR42,43000,43999,revenue,donations\n",
    },
    "juli": {
        "cost_centres.csv": "organisation_code,cost_centre,department_code,program_code,"
                            "kost_field\n"
                            "juli,1100,SB,,KOST1\n",
    },
}
ACCOUNTING = {
    "muster": ["unmapped_cost_centre.csv", "truncated.csv", "wrong_data_category_16.csv",
               "bad_lines.csv"],
    "ledermann": ["ledermann_EXTF_Buchungsstapel.csv", "ledermann_EXTF_Kontenbeschriftungen.csv"],
    "verein42": ["skr42_sphere_in_kost1.csv"],
    "juli": ["fiscal_year_from_july.csv"],
}


@dataclass
class Installation:
    home: Path

    @property
    def db(self) -> Path:
        return self.home / "warehouse" / "build.duckdb"

    def load(self) -> None:
        """Both dlt sources, as the Dagster assets run them (files already loaded are skipped)."""
        from ingestion import accounting, reference
        from ingestion.delivery import loaded_hashes
        from ingestion.pipelines import pipeline

        use_home(self.home)
        for module, source in ((reference, reference.reference),
                               (accounting, accounting.accounting)):
            skip = frozenset(loaded_hashes(module.DATASET))
            pipeline(module.DATASET).run(source(skip_hashes=skip))

    def build(self) -> None:
        """dbt build of the finance mart and everything it needs (models and their tests)."""
        dbt = Path(os.sys.executable).parent / "dbt"
        result = subprocess.run(
            [str(dbt), "build", "--select", "+mart_finance_by_cost_centre_month",
             "stg_accounting__quarantine", "stg_accounting__file_registry",
             "--target-path", str(self.home / "dbt" / "target")],
            cwd=Path(__file__).parents[2] / "transform",
            env={**os.environ, "DATENWERK_BUILD_DB": str(self.db)},
            capture_output=True, text=True, check=False,
        )
        assert result.returncode == 0, result.stdout[-4000:]

    def rows(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.sql(sql).fetchall()

    def check(self, name: str) -> checks.CheckResult:
        use_home(self.home)
        with duckdb.connect(str(self.db), read_only=True) as con:
            return getattr(checks, name)(con)


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    home = tmp_path_factory.mktemp("accounting") / "home"
    for org, files in REFERENCE.items():
        for name, text in files.items():
            (home / "inbox" / "reference" / org).mkdir(parents=True, exist_ok=True)
            (home / "inbox" / "reference" / org / name).write_text(text, encoding="utf-8")
    for org, names in ACCOUNTING.items():
        (home / "inbox" / "accounting" / org).mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copy(FIXTURES / name, home / "inbox" / "accounting" / org / name)
    inst = Installation(home)
    inst.load()
    inst.build()
    yield inst


FINANCE = """
    select month, cost_centre, department_code, program_code,
        category_type, category, costs_eur, revenues_eur, amount_eur, booking_lines
    from marts.mart_finance_by_cost_centre_month
    where organisation_code = ?
    order by month, cost_centre nulls last, category_type, category
"""


def finance(inst: Installation, org: str) -> list[tuple]:
    with duckdb.connect(str(inst.db), read_only=True) as con:
        return con.execute(FINANCE, [org]).fetchall()


D = Decimal
NONE = "(ohne Kostenstelle)"  # the member of bookings without a cost centre


def test_files_rejected_as_a_whole_say_why(installation: Installation) -> None:
    from warehouse import paths

    use_home(installation.home)
    rejected = paths.rejected_dir() / "accounting" / "muster"
    reasons = {p.name.removesuffix(".reason.txt"): p.read_text(encoding="utf-8")
               for p in rejected.glob("*.reason.txt")}
    assert set(reasons) == {"truncated.csv", "wrong_data_category_16.csv", "bad_lines.csv"}
    assert "bei der Übertragung abgeschnitten" in reasons["truncated.csv"]
    assert "DATEV-Datenkategorie 16" in reasons["wrong_data_category_16.csv"]
    assert "8 von 11 Zeilen aussortiert" in reasons["bad_lines.csv"]
    registry = installation.rows(
        "select source_file, outcome, rows_read, rows_loaded, rows_quarantined "
        "from staging.stg_accounting__file_registry order by source_file")
    assert ("accounting/juli/fiscal_year_from_july.csv", "loaded", 5, 4, 1) in registry
    assert ("accounting/muster/truncated.csv", "rejected", 0, 0, 0) in registry
    # Both were read to the end, their bookings written as they were read, before they were
    # rejected: none of them reached the warehouse, and no working copy is left behind.
    assert installation.rows(
        "select count(*) from raw_accounting.bookings join raw_accounting.file_registry "
        "using (source_sha256) where outcome = 'rejected'") == [(0,)]
    assert not list(paths.protected_dir("tmp").glob("*.parquet"))


def test_quarantined_line_is_stored_with_line_field_and_reason(installation: Installation) -> None:
    assert installation.rows(
        "select source_file, source_line, field, offending_value "
        "from staging.stg_accounting__quarantine") == [
        ("accounting/juli/fiscal_year_from_july.csv", 7, "Belegdatum", "2902")]


def test_finance_mart_skr04_with_unmapped_cost_centres_and_accounts(
    installation: Installation,
) -> None:
    assert finance(installation, "muster") == [
        (date(2024, 1, 1), "1100", "SB", "SB-ALLG", "cost", "personnel",
         D("1500.00"), D("0.00"), D("1500.00"), 1),
        # 7777: SKR 04 class 7 mixes income and expenses, no default range -> unmapped, kept.
        # No cost centre on the line: kept under the explicit member, never NULL in the key.
        (date(2024, 2, 1), NONE, None, None, "cost", "administration",
         D("60.00"), D("0.00"), D("60.00"), 1),
        (date(2024, 2, 1), "1100", "SB", "SB-ALLG", "unmapped", "unmapped",
         D("0.00"), D("0.00"), D("35.00"), 1),
        (date(2024, 2, 1), "9999", None, None, "cost", "administration",
         D("240.00"), D("0.00"), D("240.00"), 1),
    ]


def test_finance_mart_uses_both_sides_of_a_booking_and_the_declared_chart(
    installation: Installation,
) -> None:
    # Bank 1200 H 24,95 against 4940 (SKR 03 Zeitschriften, Bücher): the cost is on the contra
    # account. Debtor 10000 S 5950 against 8400: the revenue is on the contra account.
    assert finance(installation, "ledermann") == [
        (date(2018, 2, 1), NONE, None, None, "cost", "administration",
         D("24.95"), D("0.00"), D("24.95"), 1),
        (date(2018, 2, 1), NONE, None, None, "revenue", "fees",
         D("0.00"), D("5950.00"), D("-5950.00"), 1),
    ]
    labels = dict(installation.rows(
        "select account, account_label from intermediate.int_accounts_categorised "
        "where organisation_code = 'ledermann'"))
    assert labels["1200"] == "Girokonto"
    mapping = {r[0]: r[1:] for r in installation.rows(
        "select account, chart, category_type, category, mapped_by "
        "from intermediate.int_accounts_categorised where organisation_code = 'ledermann'")}
    assert mapping == {
        "1200": ("SKR03", "balance", "financial_and_private", "chart_default"),
        "4940": ("SKR03", "cost", "administration", "chart_default"),
        "10000": ("SKR03", "balance", "personal_accounts", "personal_account"),
        "8400": ("SKR03", "revenue", "fees", "organisation"),
    }


def test_finance_mart_skr42_takes_departments_from_kost2(installation: Installation) -> None:
    assert finance(installation, "verein42") == [
        (date(2025, 1, 1), "BER", "BER", "BER-ALLG", "cost", "personnel",
         D("3200.00"), D("0.00"), D("3200.00"), 1),
        (date(2025, 1, 1), "BER", "BER", "BER-ALLG", "revenue", "donations",
         D("0.00"), D("500.00"), D("-500.00"), 1),
        # 40000 H 2000 and debtor 180000 S 180 against 40000: class 4 default, other_revenue.
        (date(2025, 1, 1), "BER", "BER", "BER-ALLG", "revenue", "other_revenue",
         D("0.00"), D("2180.00"), D("-2180.00"), 2),
        (date(2025, 1, 1), "VERW", "VERW", None, "cost", "other_costs",
         D("150.00"), D("0.00"), D("150.00"), 1),
    ]


def test_reconciliation_passes_and_counts_the_quarantined_money(
    installation: Installation,
) -> None:
    files = installation.check("reconcile_bookings_to_files")
    assert files.passed, files.description
    assert files.metadata["files"] == 4
    assert files.metadata["quarantined_amount_eur"] == D("300.00")  # the 29.02.2025 line
    juli = next(t for t in files.tables["files"] if "juli" in t["file"])
    assert (juli["file_eur"], juli["quarantined_eur"], juli["warehouse_eur"]) == (
        D("1500.00"), D("300.00"), D("1200.00"))
    mart = installation.check("reconcile_finance_to_bookings")
    assert mart.passed, mart.description


def test_unmapped_bookings_warn_with_their_amounts(installation: Installation) -> None:
    outcome = installation.check("unmapped_bookings")
    assert not outcome.passed
    items = {(r["organisation_code"], r["unmapped"], r["code"]): r["amount_eur"]
             for r in outcome.tables["unmapped"]}
    assert items == {
        ("muster", "account", "7777"): D("35.00"),
        ("muster", "cost_centre", "9999"): D("240.00"),
        ("muster", "cost_centre", NONE): D("60.00"),
        # The public sample has no cost centres: 24,95 of costs and 5950 of revenue.
        ("ledermann", "cost_centre", NONE): D("-5925.05"),
    }
    assert "muster: 1 account(s) 35.00 EUR, 2 cost centre(s) 300.00 EUR" in outcome.description


def test_bookings_without_cost_centre_pass_the_blocking_mart_suite(
    installation: Installation,
) -> None:
    """Most real DATEV lines carry no cost centre (the ledermann sample: none): incomplete, not
    wrong, so the finance mart's blocking suite (its key is not-null) passes on them."""
    from quality.suites import discover_marts, validate

    use_home(installation.home)  # the suite's results go to its Data Docs
    manifest = installation.home / "dbt" / "target" / "manifest.json"
    spec = next(m for m in discover_marts(manifest)
                if m.name == "mart_finance_by_cost_centre_month")
    assert ("organisation_code", "month", "cost_centre", "category_type", "category") in spec.keys
    with duckdb.connect(str(installation.db), read_only=True) as con:
        frame = con.sql("select * from marts.mart_finance_by_cost_centre_month").df()
    assert (frame["cost_centre"] == NONE).sum() == 3  # muster February, ledermann cost and fee
    result = validate("mart_finance_by_cost_centre_month", frame, spec=spec)
    assert result.success, result


def test_tampering_with_the_warehouse_fails_reconciliation(
    installation: Installation, tmp_path: Path,
) -> None:
    copy = Installation(tmp_path / "copy")
    (copy.home / "warehouse").mkdir(parents=True)
    shutil.copy(installation.db, copy.db)
    with duckdb.connect(str(copy.db)) as con:
        con.execute("update raw_accounting.bookings set amount_eur = amount_eur + 0.01 "
                    "where account = '6020'")
    outcome = copy.check("reconcile_bookings_to_files")
    assert not outcome.passed
    assert "unmapped_cost_centre.csv" in str(outcome.metadata["failures"][0])
    with duckdb.connect(str(copy.db)) as con:
        con.execute("update marts.mart_finance_by_cost_centre_month "
                    "set costs_eur = costs_eur - 1 where category = 'personnel'")
    assert not copy.check("reconcile_finance_to_bookings").passed


def test_second_load_adds_nothing(installation: Installation) -> None:
    count = "select count(*) from raw_accounting.bookings"
    before = installation.rows(count)
    installation.load()
    assert installation.rows(count) == before


def test_corrected_february_replaces_february_only(installation: Installation) -> None:
    shutil.copy(FIXTURES / "corrected_february_2024.csv",
                installation.home / "inbox" / "accounting" / "muster")
    installation.load()
    installation.build()
    assert finance(installation, "muster") == [
        (date(2024, 1, 1), "1100", "SB", "SB-ALLG", "cost", "personnel",
         D("1500.00"), D("0.00"), D("1500.00"), 1),
        (date(2024, 2, 1), "1100", "SB", "SB-ALLG", "cost", "administration",
         D("300.00"), D("0.00"), D("300.00"), 1),
    ]
    assert installation.rows(
        "select count(*), count(distinct booking_id) from staging.stg_accounting__bookings "
        "where organisation_code = 'muster'") == [(2, 2)]
    assert installation.check("reconcile_bookings_to_files").passed
    assert installation.check("reconcile_finance_to_bookings").passed
    unmapped = installation.check("unmapped_bookings").tables["unmapped"]
    assert not [r for r in unmapped if r["organisation_code"] == "muster"]
