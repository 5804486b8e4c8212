"""The DATEV reader on the public samples (checked by hand) and on edge cases."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ingestion.accounting.datev import read_buchungsstapel, read_header
from ingestion.delivery import FileOutcome, FileRejected, quarantine_table

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"


def read(path: Path):  # type: ignore[no-untyped-def]
    outcome = FileOutcome(path, "sha", "org", "bookings", "datev")
    table, header = read_buchungsstapel(path, outcome)
    return table, header, outcome


def test_public_sample_buchungsstapel() -> None:
    table, header, outcome = read(FIXTURES / "ledermann_EXTF_Buchungsstapel.csv")
    assert (header.format_kind, header.version, header.format_version) == ("EXTF", 700, 9)
    assert (header.consultant_number, header.client_number) == ("1001", "456")
    assert str(header.period_from) == "2018-02-01" and str(header.period_to) == "2018-02-28"
    rows = table.to_pylist()
    # Line 3: 24,95 H on 1200 against 4940, Belegdatum 2102, "Fachbuch: Controlling für Dummies"
    assert rows[0]["amount_eur"] == Decimal("-24.95") and rows[0]["debit_credit"] == "H"
    assert (rows[0]["account"], rows[0]["contra_account"]) == ("1200", "4940")
    assert str(rows[0]["document_date"]) == "2018-02-21"
    assert rows[0]["posting_text"] == "Fachbuch: Controlling für Dummies"
    # Line 4: 5950,00 S on debtor 10000 against 8400, Belegdatum 2202, Belegfeld RE201802-135
    assert rows[1]["amount_eur"] == Decimal("5950.00") and rows[1]["account"] == "10000"
    assert str(rows[1]["document_date"]) == "2018-02-22"
    assert rows[1]["document_number"] == "RE201802-135"
    assert [r["source_line"] for r in rows] == [3, 4]
    assert outcome.rows_quarantined == 0


def test_account_labels_are_not_a_buchungsstapel() -> None:
    with pytest.raises(FileRejected, match="category 20"):
        read_header(FIXTURES / "ledermann_EXTF_Kontenbeschriftungen.csv")


def test_short_belegdatum_and_dates_outside_the_period(tmp_path: Path) -> None:
    src = (FIXTURES / "ledermann_EXTF_Buchungsstapel.csv").read_bytes().decode("cp1252")
    lines = src.split("\r\n")
    lines[2] = lines[2].replace(";2102;", ";203;")  # 02.03. -> outside February
    lines[3] = lines[3].replace(";2202;", ";502;")  # DMM: 05.02.
    path = tmp_path / "EXTF_short_dates.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    table, _, outcome = read(path)
    assert [str(d) for d in table["document_date"].to_pylist()] == ["2018-02-05"]
    q = quarantine_table([outcome]).to_pylist()
    assert [(r["source_line"], r["field"], r["offending_value"]) for r in q] == [(3, "Belegdatum", "203")]
    assert "01.02.2018-28.02.2018" in q[0]["reason"]
