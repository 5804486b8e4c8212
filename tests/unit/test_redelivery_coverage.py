"""The coverage comparison of a DATEV re-delivery with the bookings in force, on a real DuckDB
file, and the file-level hold record that dbt reads (real DuckDB ``read_text``)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.accounting.coverage import MIN_REPLACED_LINES, Coverage, coverage
from ingestion.accounting.datev import read_buchungsstapel

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"


def in_force(db: Path, lines: int, day_count: int) -> None:
    """A staging table with ``lines`` bookings of Mandant 29098/55003 over ``day_count`` days."""
    with duckdb.connect(str(db)) as con:
        con.execute("create schema staging")
        con.execute(
            "create table staging.stg_accounting__bookings as select 'org' as organisation_code,"
            " '29098' as consultant_number, '55003' as client_number,"
            " (date '2024-01-01' + (i % ?)::int) as document_date,"
            " 100.00::decimal(18,2) as amount_eur from range(?) t(i)", [day_count, lines])


def test_a_file_much_smaller_than_what_it_replaces_is_too_small(tmp_path: Path) -> None:
    stapel = read_buchungsstapel(FIXTURES / "extf_format_13.csv")  # 3 lines, 3 days, 14829,40
    db = tmp_path / "build.duckdb"
    in_force(db, lines=60, day_count=40)
    found = coverage(stapel, "org", db)
    assert found == Coverage(3, Decimal("14829.40"), 3, 60, Decimal("6000.00"), 40)
    assert found.too_small  # lines 5 %, days 8 % (money is even higher)
    assert "3 of 60 lines (5%)" in found.reason() and "3 of 40 booking days" in found.reason()
    # Another Mandant, or nothing in force yet: nothing is replaced, nothing to compare.
    assert coverage(stapel, "other", db) is None
    assert coverage(stapel, "org", tmp_path / "missing.duckdb") is None


@pytest.mark.parametrize(("coverage_", "too_small"), [
    (Coverage(55, Decimal(5500), 38, 60, Decimal(6000), 40), False),  # an ordinary correction
    (Coverage(18, Decimal(5000), 38, 60, Decimal(6000), 40), True),  # lines cut
    (Coverage(55, Decimal(2000), 38, 60, Decimal(6000), 40), True),  # money gone
    (Coverage(55, Decimal(5500), 12, 60, Decimal(6000), 40), True),  # days missing
    (Coverage(1, Decimal(1), 1, MIN_REPLACED_LINES - 1, Decimal(6000), 10), False),  # tiny
])
def test_any_measure_below_the_share_holds(coverage_: Coverage, too_small: bool) -> None:
    assert coverage_.too_small is too_small


def test_a_file_hold_holds_the_file_not_its_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from warehouse import holds

    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    holds.hold(["1700000000.1"], dataset="raw_x", table="t", check="gx_batch_t", reason="bad")
    holds.hold_files("1700000000.2", {"abc123": "accounting/org/x.csv"}, dataset="raw_accounting",
                     check="redelivery_coverage", reason="x.csv: covers much less")
    loads = duckdb.sql(holds.held_load_ids_sql()).fetchall()
    files = duckdb.sql(holds.held_files_sql()).fetchall()
    assert loads == [("1700000000.1",)] and files == [("abc123",)]
    by_id = {h.load_id: h for h in holds.held()}
    assert by_id["1700000000.2"].checks == ("redelivery_coverage",)
    assert by_id["1700000000.2"].tables == ("files: accounting/org/x.csv",)
    holds.release("1700000000.2", reason="confirmed", by="steward")
    assert duckdb.sql(holds.held_files_sql()).fetchall() == []
    assert holds.released_since(None) == ["1700000000.2"]
