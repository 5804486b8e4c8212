"""A delivery with one damaged DATEV file: that file alone is rejected with a reason that names
it, and the other files of the delivery load (the load of accounting, as the nightly run does it,
into a fresh home)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingestion.accounting.datev import UNBALANCED_QUOTE
from tests.conftest import use_home

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"


def load_accounting(home: Path) -> list[tuple]:
    from ingestion import accounting
    from ingestion.pipelines import pipeline

    use_home(home)
    pipeline(accounting.DATASET).run(accounting.accounting(skip_hashes=frozenset()))
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        return con.sql(
            "select source_file, outcome, rows_loaded from raw_accounting.file_registry "
            "order by source_file").fetchall()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home" / "inbox" / "accounting" / "muster").mkdir(parents=True)
    return tmp_path / "home"


def test_cr_only_file_is_rejected_alone_and_the_other_file_loads(home: Path) -> None:
    from warehouse import paths

    inbox = home / "inbox" / "accounting" / "muster"
    good = (FIXTURES / "extf_format_13.csv").read_bytes()
    (inbox / "EXTF_januar.csv").write_bytes(good)
    # The same export saved by an editor that ends lines in CR alone.
    (inbox / "EXTF_februar_mac.csv").write_bytes(
        good.replace(b"Buchungen 2024", b"Februar 2024").replace(b"\r\n", b"\r"))
    registry = load_accounting(home)
    assert registry == [
        ("accounting/muster/EXTF_februar_mac.csv", "rejected", 0),
        ("accounting/muster/EXTF_januar.csv", "loaded", 3),
    ]
    reason = (paths.rejected_dir() / "accounting" / "muster"
              / "EXTF_februar_mac.csv.reason.txt").read_text(encoding="utf-8")
    assert "CR only" in reason or "nur mit CR" in reason
    assert not (inbox / "EXTF_februar_mac.csv").exists()  # moved out: later runs are not stuck


def test_stray_quote_found_after_bookings_were_written_loads_each_line_on_its_own(
    home: Path,
) -> None:
    from ingestion.accounting.datev import BATCH_ROWS

    head, headings, first = (FIXTURES / "extf_format_13.csv").read_bytes().split(b"\r\n")[:3]
    # Excel-saved (no quotation marks); beyond the first batch of bookings, which went to the
    # Parquet file before the reader met the stray quotation mark.
    line = first.replace(b'"', b"")
    count, stray_at = BATCH_ROWS + 5000, BATCH_ROWS + 1000
    lines = [line] * count
    lines[stray_at - 1] = line.replace(b";Geh", b';"Zoll 24;Monitor Geh', 1)
    inbox = home / "inbox" / "accounting" / "muster"
    (inbox / "EXTF_excel.csv").write_bytes(b"\r\n".join([head, headings, *lines]) + b"\r\n")
    assert load_accounting(home) == [("accounting/muster/EXTF_excel.csv", "loaded", count - 1)]
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        assert con.sql("select count(*), count(distinct source_line) "
                       "from raw_accounting.bookings").fetchall() == [(count - 1, count - 1)]
        assert con.sql("select source_line, reason from raw_accounting.quarantine").fetchall() == [
            (stray_at + 2, UNBALANCED_QUOTE)]


def test_stray_quote_on_the_last_line_without_line_end_loads_the_others(home: Path) -> None:
    """Not cut off: the last booking's text opens a quotation mark and the file ends without a
    line end. That line is set aside for its quotation mark, naming the field, the file loads;
    the same file cut in the middle of that line is rejected as cut off."""
    from warehouse import paths

    lines = (FIXTURES / "extf_format_13.csv").read_bytes().split(b"\r\n")
    lines = [*lines[:2], *[line for line in lines[2:] if line] * 10]  # 30 bookings
    last = lines[-1].split(b";")
    assert last[13].startswith(b'"') and last[13].endswith(b'"')  # the Buchungstext
    last[13] = last[13][:-1]
    inbox = home / "inbox" / "accounting" / "muster"
    (inbox / "EXTF_maerz.csv").write_bytes(b"\r\n".join([*lines[:-1], b";".join(last)]))
    (inbox / "EXTF_april_abgeschnitten.csv").write_bytes(
        b"\r\n".join([*lines[:-1], lines[-1][:30]]).replace(b"Buchungen 2024", b"April 2024"))
    assert load_accounting(home) == [
        ("accounting/muster/EXTF_april_abgeschnitten.csv", "rejected", 0),
        ("accounting/muster/EXTF_maerz.csv", "loaded", len(lines) - 3),
    ]
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        [(line, reason)] = con.sql("select source_line, reason from raw_accounting.quarantine "
                                   "where source_file like '%maerz%'").fetchall()
    assert line == len(lines) and reason.startswith(
        "unbalanced quotation mark in field 14 (Buchungstext) of the last line")
    cut = (paths.rejected_dir() / "accounting" / "muster"
           / "EXTF_april_abgeschnitten.csv.reason.txt").read_text(encoding="utf-8")
    assert "abgeschnitten" in cut or "cut off" in cut
