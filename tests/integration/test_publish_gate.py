"""A broken mart fails its blocking check, nothing is published, and the last good publication
stays byte for byte as it was."""

from __future__ import annotations

import csv
import io

from dagster import AssetKey

from tests.conftest import PipelineRun, copy_home, run_nightly


def corrected_delivery_with_huge_credit(home) -> None:  # type: ignore[no-untyped-def]
    """Re-deliver the 2024 DATEV file (same Mandant and period) with one extra line: a credit of
    EUR 10 million on a personnel account. The program's costs for 2024 turn negative."""
    src = home / "inbox" / "accounting" / "swm" / "EXTF_Buchungsstapel_2024.csv"
    text = src.read_bytes().decode("cp1252")
    lines = text.split("\r\n")
    rows = list(csv.reader(io.StringIO(lines[2]), delimiter=";"))
    headings = next(csv.reader(io.StringIO(lines[1]), delimiter=";"))
    row = rows[0]
    row[headings.index("Umsatz (ohne Soll/Haben-Kz)")] = "10000000,00"
    row[headings.index("Soll/Haben-Kennzeichen")] = "H"
    row[headings.index("Konto")] = "6000"
    buf = io.StringIO()
    csv.writer(buf, delimiter=";", lineterminator="").writerow(row)
    lines.insert(2, buf.getvalue())
    (src.parent / "EXTF_Buchungsstapel_2024_korrektur.csv").write_bytes(
        "\r\n".join(lines).encode("cp1252")
    )


def test_failed_check_blocks_publication(first_run: PipelineRun) -> None:
    home = copy_home(first_run.home, "broken-mart")
    published = home / "published" / "marts.duckdb"
    before = published.read_bytes()
    corrected_delivery_with_huge_credit(home)

    result = run_nightly(home)

    assert not result.success
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    failed = evaluations["gx_mart_impact_by_program"]
    assert not failed.passed
    failures = failed.metadata["failed_expectations"].value
    assert {"expectation": "expect_column_values_to_be_between", "columns": ["costs_eur"]}.items() <= failures[0].items()
    materialised = {
        e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert AssetKey(["mart_impact_by_program"]) in materialised  # it was rebuilt ...
    assert AssetKey(["published_marts"]) not in materialised  # ... but not published
    assert published.read_bytes() == before
