"""A federation installation: member organisations deliver under the shared standard, with the
same department codes and overlapping client numbers. One real nightly run over the demo
federation (three members, the third small) proves that pseudonyms are per organisation, that
every export of an organisation holds its own rows only, and that the federation mart hides
what would single out an organisation, provably so."""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from tests.conftest import SCALE, SEED, PipelineRun, in_staging, run_nightly

MEMBERS = 3
MART = "mart_federation_program_year"
# Columns that identify whose rows a file holds: organisation, and the pseudonyms that are
# per organisation (a pseudonym of another member in an export would be another's row).
PSEUDONYM_COLUMNS = ("case_id", "client_id")


@pytest.fixture(scope="module")
def installation(session_root: Path) -> Iterator[PipelineRun]:
    """The demo federation at SCALE (enough closed cases for cells that may be shown), loaded by
    one real nightly run."""
    from ingestion.demo.generator import generate_federation
    from ingestion.pseudonymise import ensure_key_file
    from tests.conftest import use_home

    home = session_root / "federation"
    try:
        # Put back after the run (tests/environment.py); the tests set them again: ``federation``.
        os.environ["DATENWERK_FEDERATION"] = "1"
        use_home(home)
        generate_federation(home / "inbox", home / "demo_truth", seed=SEED, scale=SCALE,
                            organisations=MEMBERS)
        ensure_key_file()
        result = run_nightly(home)
        assert result.success  # type: ignore[attr-defined]
        yield PipelineRun(home, result)
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def federation(installation: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> PipelineRun:
    """The federation's installation as the test's: its home, in federation mode."""
    monkeypatch.setenv("DATENWERK_FEDERATION", "1")
    monkeypatch.setenv("DATENWERK_HOME", str(installation.home))
    return installation


def published(run: PipelineRun, query: str, params: list[object] | None = None) -> pd.DataFrame:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.execute(query, params or []).df()


def client_numbers(run: PipelineRun, organisation: str) -> dict[str, str]:
    """Client numbers on the case lists an organisation delivered (clear, from its inbox), with
    the department folder that delivered each."""
    numbers: dict[str, str] = {}
    for path in (run.home / "inbox" / "case_management" / organisation).glob("*/faelle.csv"):
        with path.open(encoding="cp1252", newline="") as fh:
            numbers |= {row["Klient-Nr"].strip(): path.parent.name
                        for row in csv.DictReader(fh, delimiter=";")}
    return numbers


def test_the_same_client_number_is_two_people(federation: PipelineRun) -> None:
    from ingestion.pseudonymise import current_key, organisation_key, pseudonym

    organisations = sorted(p.name for p in (federation.home / "inbox" / "case_management")
                           .iterdir())
    assert len(organisations) == MEMBERS
    first, second = organisations[:2]
    delivered = {org: client_numbers(federation, org) for org in (first, second)}
    shared = sorted(delivered[first].keys() & delivered[second].keys())
    assert shared, "the demo members share client numbers"
    number = shared[0]
    stored = {org: pseudonym(number, organisation_key(org)) for org in (first, second)}
    assert stored[first] != stored[second]
    own = {org: in_staging(delivered[org][number], stored[org]) for org in (first, second)}
    found = published(
        federation, "select organisation_code, client_id from fct_cases "
                    "where client_id in (?, ?, ?) group by all order by all",
        [own[first], own[second],
         in_staging(delivered[first][number], pseudonym(number, current_key()))])
    # Two clients, each at her own organisation; the installation's key made neither.
    assert sorted(map(tuple, found.itertuples(index=False))) == sorted(
        [(first, own[first]), (second, own[second])])
    linked = published(federation, "select count(*) as n from (select client_id from fct_cases "
                                    "group by client_id having count(distinct "
                                    "organisation_code) > 1)")
    assert linked["n"][0] == 0  # no pseudonym is shared by two organisations


def _column(path: Path, mart: str, name: str) -> str | None:
    """How a mart column is headed in an export file: its name in Parquet, else its German label."""
    from warehouse import labels

    if path.suffix == ".parquet":
        return name
    described = labels.described_columns(mart).get(name)
    return described.label if described else None


def test_the_warehouse_refuses_to_leave_the_federation(
        federation: PipelineRun, monkeypatch: pytest.MonkeyPatch) -> None:
    from ingestion.pseudonymise import KeyMismatchError, check_key_matches_warehouse

    check_key_matches_warehouse()  # the key and mode it was loaded with
    # Without per-organisation keys the next load would make other pseudonyms for every member.
    monkeypatch.delenv("DATENWERK_FEDERATION")
    with pytest.raises(KeyMismatchError, match="DATENWERK_FEDERATION"):
        check_key_matches_warehouse()


def _rows_of(path: Path) -> pd.DataFrame:
    """The rows of one export file, with the mart's or the German column names."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, sep=";", encoding="utf-8-sig", dtype=str)
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = [r for sheet in workbook.worksheets[1:] for r in sheet.iter_rows(values_only=True)]
    header = rows[0]
    return pd.DataFrame([r for r in rows[1:] if r != header], columns=header)


def test_each_organisation_s_exports_hold_only_its_rows(federation: PipelineRun) -> None:
    exports = federation.home / "exports"
    pseudonyms = published(
        federation, "select organisation_code, case_id, client_id from fct_cases")
    by_org = {org: set(g["case_id"]) | set(g["client_id"])
              for org, g in pseudonyms.groupby("organisation_code")}
    assert sorted(p.name for p in exports.iterdir()) == sorted(by_org)
    checked = 0
    for org_dir in sorted(exports.iterdir()):
        org = org_dir.name
        others = set().union(*(v for k, v in by_org.items() if k != org))
        for department_dir in sorted(org_dir.iterdir()):
            latest = department_dir / "latest"
            manifest = json.loads((latest / "manifest.json").read_text())
            assert (manifest["organisation_code"], manifest["department_code"]) == (
                org, department_dir.name)
            files = sorted(p for p in latest.iterdir() if p.name != "manifest.json")
            assert {f["file"] for f in manifest["files"]} == {p.name for p in files}
            for path in files:
                mart = path.name.split(".")[0]
                frame = _rows_of(path)
                column = _column(path, mart, "organisation_code")
                assert column in frame.columns, f"{path}: no organisation column"
                expected = published(
                    federation, f'select count(*) as n from "{mart}" '
                                "where organisation_code = ? and department_code = ?",
                    [org, department_dir.name])["n"][0]
                assert len(frame) == expected, path
                assert expected > 0 or mart == "mart_deliveries", path  # not vacuous
                assert set(frame[column]) <= {org}, f"{path}: rows of another organisation"
                for name in PSEUDONYM_COLUMNS:
                    label = _column(path, mart, name)
                    if label in frame.columns:
                        assert not set(frame[label].dropna()) & others, f"{path}: {name}"
                checked += 1
    assert checked >= MEMBERS * 2 * 3  # every member, its pilots, every mart and format


def test_open_data_keeps_members_departments_apart(federation: PipelineRun) -> None:
    with (federation.home / "open_data" / "cases_by_end_reason.csv").open(encoding="utf-8") as fh:
        departments = {row["department_code"] for row in csv.DictReader(fh)} - {"total"}
    expected = published(federation, "select distinct organisation_code || '/' || "
                                     "department_code as d from fct_cases where end_date is not "
                                     "null")
    assert departments == set(expected["d"])


def _truth(run: PipelineRun) -> pd.DataFrame:
    """Closed cases per year and program across members, from the unsuppressed case facts."""
    return published(run, """
        select end_year as year, program_code, count(distinct organisation_code) as orgs,
               count(*) as cases, count(*) filter (where is_planned_end) as planned
        from fct_cases where end_date is not null group by all
        union all
        select end_year, 'total', count(distinct organisation_code), count(*),
               count(*) filter (where is_planned_end)
        from fct_cases where end_date is not null group by all
    """)


def test_the_federation_mart_hides_what_would_single_out_an_organisation(
        federation: PipelineRun) -> None:
    from warehouse import settings
    from warehouse.suppression import TOTAL, Table, verify_no_disclosure

    mart = published(federation, f"select * from {MART}")
    truth = _truth(federation).merge(mart, on=["year", "program_code"], validate="1:1")
    assert len(truth) == len(mart)
    threshold, margin = settings.SUPPRESSION_THRESHOLD, settings.PROTECTION_MARGIN
    few = truth["orgs"] < settings.FEDERATION_MIN_ORGANISATIONS
    small = truth[["cases", "planned"]].apply(lambda c: (c > 0) & (c < threshold)).any(axis=1)
    small |= ((truth["cases"] - truth["planned"]) > 0) & (
        (truth["cases"] - truth["planned"]) < threshold)
    assert truth.loc[few | small, "is_suppressed"].all()
    assert (truth.loc[few, "suppression_reason"] == "few_organisations").all()
    assert truth.loc[few | small, ["n_cases_closed", "n_planned_ends"]].isna().all().all()
    shown = truth[~truth["is_suppressed"]]
    assert (shown["n_cases_closed"] == shown["cases"]).all()
    assert (shown["n_planned_ends"] == shown["planned"]).all()
    cells = truth[truth["program_code"] != "total"]
    assert cells["is_suppressed"].any() and not cells["is_suppressed"].all()
    # The small member is recognisable wherever fewer than three members contribute.
    assert few.any()

    tables = []
    for year, rows in mart.groupby("year"):
        total = rows[rows["program_code"] == TOTAL].iloc[0]
        cells = rows[rows["program_code"] != TOTAL]
        for measure in ("n_cases_closed", "n_planned_ends"):
            parts = {(p,): (None if pd.isna(v) else int(v))
                     for p, v in zip(cells["program_code"], cells[measure], strict=True)}
            whole = None if pd.isna(total[measure]) else int(total[measure])
            tables.append(Table(MART, {"year": str(year), "measure": measure}, ("program_code",),
                                {**parts, (TOTAL,): whole}))
            if whole is not None and None not in parts.values():
                # Nothing hidden: the total is the sum of its programs.
                assert whole == sum(parts.values()), (year, measure)
            elif whole is not None:
                hidden = whole - sum(v for v in parts.values() if v is not None)
                assert hidden >= margin, (year, measure)
    report = verify_no_disclosure(tables, threshold, margin)
    assert report.ok, report.problems
    assert report.hidden_cells > 0 and report.published_cells > 0
