"""A DATEV re-delivery cut off exactly at a line end, through real nightly runs on the demo: it is
held for a steward's confirmation instead of replacing the year, the other file of the same
night goes ahead, and once released it is merged.

The truncated file is built from the demo's own Buchungsstapel; expected figures are computed
from the files' text, not taken from the pipeline."""

from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.accounting.coverage import MIN_SHARE
from tests.conftest import PipelineRun, copy_home, run_nightly, use_home

FIXTURES = Path(__file__).parents[1] / "fixtures" / "datev"
KEEP = 0.3  # share of booking lines that "arrived": the measured case kept 180 of 601


def costs_in_file(path: Path) -> Decimal:
    """Costs booked in a demo-shaped file: debits on class-6 accounts (SKR 04) against balance
    accounts, as the demo books them."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"), newline=""),
                           delimiter=";"))[2:]
    return sum((Decimal(r[0].replace(",", ".")) * (1 if r[1] == "S" else -1)
                for r in rows if r and r[6].startswith("6")), Decimal(0))


def published_costs(home: Path, year: int) -> Decimal:
    with duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.execute(
            "select sum(costs_eur) from mart_finance_by_cost_centre_month "
            "where organisation_code = 'swm' and year = ?", [year]).fetchall()[0][0]


def truncate_at_line_end(source: Path, target: Path, keep: float) -> int:
    """The file's first two lines and ``keep`` of its bookings, cut right after a line end."""
    lines = source.read_bytes().split(b"\r\n")
    bookings = [line for line in lines[2:] if line]
    kept = bookings[: int(len(bookings) * keep)]
    target.write_bytes(b"\r\n".join([*lines[:2], *kept]) + b"\r\n")
    return len(kept)


@pytest.fixture(scope="module")
def nights(small_first_run: PipelineRun) -> dict[str, object]:
    from warehouse import holds

    home = copy_home(small_first_run.home, "redelivery-hold")
    use_home(home)
    inbox = home / "inbox" / "accounting" / "swm"
    full = inbox / "EXTF_Buchungsstapel_2024.csv"
    cut = inbox / "EXTF_Buchungsstapel_2024_neu.csv"
    kept = truncate_at_line_end(full, cut, KEEP)
    # Another Mandant's file in the same night: it must load although the cut file is held.
    shutil.copy(FIXTURES / "extf_format_13.csv", inbox / "mandant_55003_2024.csv")
    before = published_costs(home, 2024)

    held_night = run_nightly(home)
    held_records = holds.held()
    records = {h.load_id: (holds.held_dir() / f"{h.load_id}.json").read_text(encoding="utf-8")
               for h in held_records}
    after_held = published_costs(home, 2024)

    for record in held_records:
        holds.release(record.load_id, reason="steward: the shorter file is right")
    released_night = run_nightly(home)
    return {
        "home": home, "full": full, "cut": cut, "kept": kept, "before": before,
        "held_night": held_night, "held": held_records, "records": records,
        "after_held": after_held,
        "released_night": released_night, "after_release": published_costs(home, 2024),
        "held_after_release": holds.held(),
    }


def test_truncated_redelivery_is_held_naming_what_it_lacks(nights: dict) -> None:
    from warehouse.files import sha256_file

    assert nights["held_night"].success
    [record] = nights["held"]
    assert record.checks == ("redelivery_coverage",)
    assert "EXTF_Buchungsstapel_2024_neu.csv" in record.reason
    total = len([line for line in nights["full"].read_bytes().split(b"\r\n")[2:] if line])
    assert f"{nights['kept']} of {total} lines" in record.reason
    assert nights["kept"] / total < MIN_SHARE
    # The record holds the file (by its sha256), not the whole load.
    assert json.loads(nights["records"][record.load_id])["files"] == [sha256_file(nights["cut"])]


def test_the_reconciliation_check_names_the_held_file(nights: dict) -> None:
    [check] = [e.event_specific_data for e in nights["held_night"].all_events
               if e.event_type_value == "ASSET_CHECK_EVALUATION"
               and e.event_specific_data.check_name == "reconcile_bookings_to_files"]
    assert check.passed
    assert "1 re-delivery(ies) held" in check.description


def test_while_held_the_year_keeps_its_bookings_and_the_other_file_loads(nights: dict) -> None:
    # The other Mandant's file added its costs (6020: 4210,50 + 6815: 618,90); the year's
    # bookings from the full file stay in force.
    assert nights["after_held"] == nights["before"] + Decimal("4829.40")


def test_once_released_the_redelivery_replaces_the_year(nights: dict) -> None:
    assert nights["released_night"].success
    assert nights["held_after_release"] == []
    expected = costs_in_file(nights["cut"]) + Decimal("4829.40")
    assert nights["after_release"] == expected
    fell = 1 - nights["after_release"] / nights["after_held"]
    print(f"2024 costs: {nights['after_held']} held, {nights['after_release']} released "
          f"({fell:.0%} less)")
    assert fell > Decimal("0.3")  # what would have happened silently
