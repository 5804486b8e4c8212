"""The accounting mapping configuration: the organisation's reference files are checked when
delivered, and the shipped default ranges follow the same rules."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pytest

from ingestion.accounting.datev import cp1252_to_utf8
from ingestion.reference import CATEGORIES, Delivery

SEED = Path(__file__).parents[2] / "transform" / "seeds" / "chart_of_accounts_defaults.csv"
ACCOUNTS_HEADER = "organisation_code,chart,account_from,account_to,category_type,category\n"
CENTRES_HEADER = "organisation_code,cost_centre,department_code,program_code,kost_field\n"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def deliver(tmp_path: Path, name: str, text: str) -> str | None:
    """Deliver one reference file into a fresh home; return why it was rejected (or None)."""
    folder = tmp_path / "home" / "inbox" / "reference" / "org"
    folder.mkdir(parents=True)
    (folder / name).write_text(text, encoding="utf-8")
    outcomes = Delivery(tmp_path / "home" / "inbox" / "reference", frozenset()).parsed[1]
    return outcomes[0].rejected_reason


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ("org,SKR04,6000,6199,cost,personnel\norg,04,0400,0499,balance,vehicles\n", None),
        ("org,SKR04,6000,619,cost,personnel\n", "line 2: account_from '6000' and account_to '619'"),
        ("org,SKR04,6200,6100,cost,personnel\n", "from <= to"),
        ("org,SKR04,6000,6199,cost,salaries\n", "line 2: category 'salaries' is not a cost"),
        ("org,SKR04,4000,4199,income,fees\n", "category_type 'income' is not one of"),
        ("org,DATEV,4000,4199,revenue,fees\n", "chart 'DATEV' is not a DATEV chart"),
    ],
)
def test_accounts_csv_is_checked_when_delivered(
    tmp_path: Path, rows: str, reason: str | None
) -> None:
    got = deliver(tmp_path, "accounts.csv", ACCOUNTS_HEADER + rows)
    assert got is None if reason is None else reason in (got or "")


def test_leading_zeros_of_account_ranges_survive(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "inbox" / "reference" / "org"
    folder.mkdir(parents=True)
    (folder / "accounts.csv").write_text(
        ACCOUNTS_HEADER + "org,SKR03,0400,0499,balance,vehicles\n", encoding="utf-8")
    table = Delivery(tmp_path / "home" / "inbox" / "reference", frozenset()).parsed[0][
        "accounts"][0]
    assert table.column("account_from").to_pylist() == ["0400"]


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ("org,BER,BER,BER-ALLG,KOST2\norg,VERW,VERW,,KOST2\n", None),
        ("org,1100,SB,SB-ALLG,\n", None),  # empty means KOST1
        ("org,1100,SB,SB-ALLG,KOST3\n", "kost_field 'KOST3' is not KOST1 or KOST2"),
        (
            "org,1100,SB,SB-ALLG,KOST1\norg,BER,BER,,KOST2\n",
            "must be the same for all cost centres",
        ),
    ],
)
def test_cost_centres_csv_is_checked_when_delivered(
    tmp_path: Path, rows: str, reason: str | None
) -> None:
    got = deliver(tmp_path, "cost_centres.csv", CENTRES_HEADER + rows)
    assert got is None if reason is None else reason in (got or "")


def test_default_ranges_follow_the_rules_of_an_organisations_ranges() -> None:
    with SEED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["chart"] for r in rows} == {"SKR03", "SKR04", "SKR42", "SKR49"}
    for r in rows:
        assert r["account_from"].isdigit() and len(r["account_from"]) == len(r["account_to"])
        assert r["account_from"] <= r["account_to"]
        assert r["category_type"] in CATEGORIES
        assert not CATEGORIES[r["category_type"]] or r["category"] in CATEGORIES[r["category_type"]]
    keys = [(r["chart"], r["account_from"], r["account_to"]) for r in rows]
    assert len(keys) == len(set(keys))


def test_cp1252_transcoding_equals_python_for_every_byte() -> None:
    values = [bytes(range(i, min(i + 37, 256))) for i in range(0, 256, 37)] + [b"", None, b"abc"]
    undefined = {0x81, 0x8D, 0x8F, 0x90, 0x9D}  # not in Windows-1252: kept as C1 controls
    expected = [
        None if v is None else "".join(
            chr(b) if b in undefined else bytes([b]).decode("cp1252") for b in v)
        for v in values
    ]
    got = cp1252_to_utf8(pa.array(values, pa.binary()))
    assert got.type == pa.string() and got.to_pylist() == expected
    sliced = cp1252_to_utf8(pa.array(values, pa.binary()).slice(2, 3))
    assert sliced.to_pylist() == expected[2:5]
