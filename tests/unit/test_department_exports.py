"""Department exports: only the department's rows, in xlsx / German csv / parquet, a manifest
with sha256, a folder swapped in, `latest`, retention, and clear configuration errors."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.unit.conftest import SYNTHETIC_MARTS
from warehouse import exports as ex
from warehouse import publish as pub

pytestmark = pytest.mark.usefixtures("dbt_manifest")  # marts' meta in dbt

CONFIG = """\
organisation_code: swm
defaults:
  formats: [xlsx, csv, parquet]
  retention: 3
departments:
  - code: SB
    marts: [fct_cases, mart_finance_by_cost_centre_month]
  - code: SUB
    marts: [fct_cases]
    formats: [csv]
    retention: 1
"""


def configure(home: Path, text: str = CONFIG) -> Path:
    path = home / "inbox" / "reference" / "swm" / "departments.yml"
    path.write_text(text, encoding="utf-8")
    return path


def published(query: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(pub.current_generation_file()), read_only=True) as con:
        return con.sql(query).fetchall()


@pytest.fixture
def exported(synthetic_home: Path) -> Path:
    configure(synthetic_home)
    pub.publish(SYNTHETIC_MARTS, run_id="run00001")
    ex.export_departments()
    return synthetic_home / "exports"


def test_each_department_gets_only_its_own_rows(exported: Path) -> None:
    sb = exported / "SB" / "latest"
    frame = pd.read_parquet(sb / "fct_cases.parquet")
    assert set(frame["department_code"]) == {"SB"}
    assert len(frame) == published("select count(*) from fct_cases "
                                   "where department_code = 'SB'")[0][0] == 30
    finance = pd.read_parquet(sb / "mart_finance_by_cost_centre_month.parquet")
    assert set(finance["department_code"]) == {"SB"} and set(finance["cost_centre"]) == {"1100"}
    sub = exported / "SUB" / "latest"
    assert sorted(p.name for p in sub.iterdir()) == ["fct_cases.csv", "manifest.json"]
    sub_rows = pd.read_csv(sub / "fct_cases.csv", sep=";", encoding="utf-8-sig")
    assert set(sub_rows["Fachbereich"]) == {"SUB"}
    assert not set(sub_rows["Fall (Pseudonym)"]) & set(frame["case_id"])


def test_xlsx_opens_with_the_expected_rows(exported: Path) -> None:
    workbook = openpyxl.load_workbook(exported / "SB" / "latest" / "fct_cases.xlsx",
                                      read_only=True)
    assert workbook.sheetnames == ["Erläuterungen", "Fälle"]
    rows = list(workbook["Fälle"].iter_rows(values_only=True))
    expected = published("select * from fct_cases where department_code = 'SB' order by all")
    # German labels from the dbt YAML; columns it does not describe keep their names
    assert list(rows[0]) == ["Träger", "Fall (Pseudonym)", "Fachbereich", "Angebot",
                             "Betreuungsbeginn", "Betreuungsende", "Planmäßig beendet",
                             "mean_minutes", "contacts", "Art der Beendigung", "PLZ-Region"]
    assert len(rows) - 1 == len(expected) == 30
    for got, want in zip(rows[1:], expected, strict=True):
        got_norm = [v.date() if isinstance(v, dt.datetime) else v for v in got]
        got_norm += [None] * (len(rows[0]) - len(got_norm))  # trailing empty cells not stored
        assert got_norm == list(want)
    finance = openpyxl.load_workbook(
        exported / "SB" / "latest" / "mart_finance_by_cost_centre_month.xlsx", read_only=True)
    assert finance.sheetnames == ["Erläuterungen", "Finanzen je Kostenstelle"]


def test_csv_is_for_german_excel(exported: Path) -> None:
    raw = (exported / "SB" / "latest" / "mart_finance_by_cost_centre_month.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    frame = pd.read_csv(io_of(raw), sep=";", decimal=",", encoding="utf-8-sig",
                        dtype={"Kostenstelle": str}).rename(
        columns={"Kosten (€)": "costs_eur", "Monat": "month"})
    expected = published("select costs_eur, net_eur, month from mart_finance_by_cost_centre_month"
                         " where department_code = 'SB' order by all")
    assert [decimal.Decimal(str(v)).quantize(decimal.Decimal("0.01"))
            for v in frame["costs_eur"]] == [r[0] for r in expected]
    assert (frame["net_eur"] <= 0).all() and frame["net_eur"].min() == float(expected[-1][1])
    assert list(frame["month"])[:2] == ["01.01.2024", "01.02.2024"]
    cases = (exported / "SB" / "latest" / "fct_cases.csv").read_text(encoding="utf-8-sig")
    header, first = cases.splitlines()[:2]
    assert header.split(";")[:3] == ["Träger", "Fall (Pseudonym)", "Fachbereich"]
    fields = dict(zip(header.split(";"), first.split(";"), strict=True))
    assert fields["Planmäßig beendet"] in ("WAHR", "FALSCH")
    assert fields["mean_minutes"] == "2,25"  # 1 * 1.25 + 1, decimal comma


def io_of(raw: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(raw)


def test_manifest_names_rows_hashes_and_generation(exported: Path) -> None:
    folder = exported / "SB" / "latest"
    manifest = json.loads((folder / "manifest.json").read_text())
    current = pub.current_manifest()
    assert current is not None
    assert manifest["generation"] == current["generation"]
    assert manifest["run_id"] == "run00001"
    assert manifest["date"] == folder.resolve().name
    assert {f["file"] for f in manifest["files"]} == {
        f"{m}.{x}" for m in ("fct_cases", "mart_finance_by_cost_centre_month")
        for x in ("xlsx", "csv", "parquet")}
    for f in manifest["files"]:
        assert pub.sha256_file(folder / f["file"]) == f["sha256"]
        assert f["rows"] == (30 if f["mart"] == "fct_cases" else 12)
    assert os.readlink(exported / "SB" / "latest") == manifest["date"]
    assert not [p for p in (exported / "SB").iterdir() if p.name.startswith(".")]


def test_same_day_export_is_swapped_and_retention_prunes(exported: Path) -> None:
    current = pub.current_manifest()
    assert current is not None
    day = ex.publication_day(current)  # the first export's (the second publication's may be
    first_date = day.isoformat()       # the next day's, when midnight passed in between)
    assert os.readlink(exported / "SB" / "latest") == first_date
    # the same day again: the folder is replaced, not duplicated
    pub.publish(SYNTHETIC_MARTS, run_id="run00002")
    assert all(r.unchanged for r in ex.export_departments())  # the same rows: kept as they are
    ex.export_departments(date=day, rewrite_unchanged=True)
    manifest = json.loads((exported / "SB" / first_date / "manifest.json").read_text())
    assert manifest["run_id"] == "run00002"
    # later days: SB keeps 3 folders, SUB keeps 1
    for days in (1, 2, 3, 4):
        ex.export_departments(date=day + dt.timedelta(days=days), rewrite_unchanged=True)
    sb = sorted(p.name for p in (exported / "SB").iterdir() if ex.DATED.match(p.name))
    sub = sorted(p.name for p in (exported / "SUB").iterdir() if ex.DATED.match(p.name))
    assert len(sb) == 3 and first_date not in sb
    assert len(sub) == 1 and os.readlink(exported / "SUB" / "latest") == sub[0] == sb[-1]


def test_exports_are_of_the_publications_day_in_berlin_not_of_now(exported: Path) -> None:
    """The day a generation became current, in Berlin time, names its exports, whenever they
    are written: a run past midnight, or at New Year, the switch to or from summer time."""
    current = pub.current_manifest()
    assert current is not None
    became_current = {"2026-12-31T23:30:00+00:00": "2027-01-01",  # 00:30 CET: New Year
                      "2026-03-28T22:59:59+00:00": "2026-03-28",  # 23:59:59 CET
                      "2026-03-29T00:30:00+00:00": "2026-03-29",  # 01:30 CET, before the switch
                      "2026-06-30T22:30:00+00:00": "2026-07-01",  # 00:30 CEST: a new month
                      "2026-10-24T22:30:00+00:00": "2026-10-25"}  # 00:30 CEST, the night back
    for since, day in became_current.items():
        assert ex.publication_day({**current, "current_since": since}).isoformat() == day
    # a generation's own manifest (never current yet) names only its publication
    assert ex.publication_day({"published_at": "2026-11-29T23:05:00+00:00"}).isoformat() == (
        "2026-11-30")

    results = ex.export_departments(
        manifest={**current, "current_since": "2026-12-31T23:30:00+00:00"},
        rewrite_unchanged=True)
    assert {r.date for r in results} == {"2027-01-01"}
    manifest = json.loads((exported / "SB" / "latest" / "manifest.json").read_text())
    assert manifest["date"] == "2027-01-01" and os.readlink(exported / "SB" / "latest") == (
        "2027-01-01")
    workbook = openpyxl.load_workbook(exported / "SB" / "latest" / "fct_cases.xlsx",
                                      read_only=True)
    about = {r[0]: r[1] for r in workbook.worksheets[0].iter_rows(values_only=True)}
    assert about.get("Stand") == "01.01.2027", about


def test_a_copied_home_without_symlinks_still_exports(exported: Path) -> None:
    import shutil

    copy = exported.parent.parent / "copy"
    shutil.copytree(exported.parent, copy)  # `latest` becomes a plain folder
    assert not (copy / "exports" / "SB" / "latest").is_symlink()
    from tests.conftest import use_home

    use_home(copy)
    pub.publish(SYNTHETIC_MARTS, run_id="run00003")
    ex.export_departments(rewrite_unchanged=True)
    latest = copy / "exports" / "SB" / "latest"
    assert latest.is_symlink()
    assert json.loads((latest / "manifest.json").read_text())["run_id"] == "run00003"


@pytest.mark.parametrize(("config", "message"), [
    (CONFIG.replace("marts: [fct_cases]", "marts: [mart_deliveries]"),
     "asks for 'mart_deliveries', which has no department_code"),
    (CONFIG.replace("marts: [fct_cases]", "marts: [fct_nothing]"),
     "asks for 'fct_nothing', which is not published"),
    (CONFIG.replace("code: SUB", "code: SUX"), "unknown department(s) SUX"),
    (CONFIG.replace("formats: [csv]", "formats: [xls]"), "unknown format(s) xls"),
    (CONFIG.replace("retention: 1", "retention: 0"), "'retention' must be a whole number"),
    (CONFIG.replace("code: SUB", "code: SB"), "listed twice: SB"),
])
def test_configuration_errors_are_clear_and_export_nothing(
        synthetic_home: Path, config: str, message: str) -> None:
    path = configure(synthetic_home, config)
    pub.publish(SYNTHETIC_MARTS, run_id="run00001")

    with pytest.raises(ex.ExportConfigError) as error:
        ex.export_departments()
    assert message in str(error.value) and str(path) in str(error.value)
    assert not (synthetic_home / "exports").exists()


def test_without_publication_or_config(synthetic_home: Path) -> None:
    assert ex.export_departments() == []  # no departments.yml: nothing to do
    configure(synthetic_home)
    with pytest.raises(FileNotFoundError, match="nothing is published yet"):
        ex.export_departments()


def test_german_csv_values() -> None:
    assert ex._csv_value(1234.5) == "1234,5"
    assert ex._csv_value(1e-7) == "0,0000001"
    assert ex._csv_value(2.0) == "2"
    assert ex._csv_value(decimal.Decimal("-10.50")) == "-10,50"
    assert ex._csv_value(dt.date(2024, 3, 1)) == "01.03.2024"
    assert ex._csv_value(dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.UTC)) == "01.03.2024 02:30:00"
    assert ex._csv_value(None) == "" and ex._csv_value(float("nan")) == ""
    assert ex._csv_value(True) == "WAHR"


def test_csv_columns_are_written_as_their_values(tmp_path: Path) -> None:
    """The CSV formats text, integer, boolean and date columns a column at a time: each cell
    is what the value-by-value formatting gives, also for formula-like text, a year before
    1000 (Python does not pad it), empty cells and all-empty columns."""
    import csv

    import pyarrow as pa

    table = pa.table({
        "note": ["=1+2", "-x", "a;b \"quoted\"", None, "\tt", "@home", "Straße"],
        "n": pa.array([1, None, -5, 0, 2**40, 7, 8], pa.int64()),
        "small": pa.array([1, 2, 3, None, 5, 6, 7], pa.int8()),
        "flag": [True, None, False, True, False, True, None],
        "day": [dt.date(2024, 3, 1), None, dt.date(201, 1, 9), dt.date(1999, 12, 31),
                dt.date(9999, 12, 31), dt.date(1000, 1, 1), dt.date(2024, 2, 29)],
        "recent": [dt.date(2024, 3, 1), None, None, dt.date(1999, 12, 31), None, None, None],
        "none": pa.array([None] * 7, pa.date32()),
        "rate": [0.5, None, 1e-7, 2.0, float("nan"), 1234.5, -3.25],
        "at": [dt.datetime(2024, 3, 1, 1, 30, tzinfo=dt.UTC), None, None, None, None, None,
               None],
    })
    ex.write_csv(ex.Sheet.of("fct_cases", table), tmp_path / "values.csv")
    with (tmp_path / "values.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))[1:]
    expected = [[ex._csv_value(v) for v in row.values()] for row in table.to_pylist()]
    assert rows == expected
    assert [row[0] for row in rows][:2] == ["'=1+2", "'-x"] and rows[0][4] == "01.03.2024"
    assert rows[2][4] == "09.01.201"


def test_a_large_export_spans_sheets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    monkeypatch.setattr(ex, "EXCEL_MAX_ROWS", 11)  # 10 data rows per sheet
    table = pa.table({"department_code": ["SB"] * 25, "n": list(range(25))})
    ex.write_xlsx([ex.Sheet.of("fct_cases", table)], tmp_path / "big.xlsx", about={})
    workbook = openpyxl.load_workbook(tmp_path / "big.xlsx", read_only=True)
    assert workbook.sheetnames == ["Erläuterungen", "Fälle", "Fälle (2)", "Fälle (3)"]
    values = [r[1] for ws in workbook.worksheets[1:]
              for r in ws.iter_rows(min_row=2, values_only=True)]
    assert values == list(range(25))
    assert pq  # parquet writer imported for the other tests


def test_rollback_command_rewrites_the_exports(exported: Path) -> None:
    import subprocess
    import sys

    first = pub.current_manifest()
    assert first is not None
    pub.publish(SYNTHETIC_MARTS, run_id="run00002")
    assert all(r.unchanged for r in ex.export_departments())  # the same rows: kept as they are
    ex.export_departments(rewrite_unchanged=True)
    latest = exported / "SB" / "latest" / "manifest.json"
    assert json.loads(latest.read_text())["run_id"] == "run00002"

    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "rollback", first["generation"]],
        env={**os.environ, "DATENWERK_HOME": str(exported.parent)},
        capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert json.loads(latest.read_text())["generation"] == first["generation"]
    assert "exports/SB/" in done.stdout


def test_rollback_command_rewrites_the_open_data(exported: Path, tmp_path: Path) -> None:
    """The public open data counted the cases of the generation taken back; it is made again
    from the restored one (before, it stayed as the nightly run had written it)."""
    import subprocess
    import sys

    from tests.unit.conftest import write_build
    from warehouse import open_data, paths

    def aggregates(folder: Path) -> dict[str, str]:
        return {name: (folder / f"{name}.csv").read_text(encoding="utf-8")
                for name in ("cases_by_end_reason", "cases_by_region")}

    def made_from(generation: str) -> dict[str, str]:
        folder = tmp_path / generation / str(len(list(tmp_path.glob(f"{generation}/*"))))
        open_data.build(folder, paths.generations_dir() / f"{generation}.duckdb",
                        paths.build_db())
        return aggregates(folder)

    first = pub.current_manifest()
    assert first is not None
    write_build(exported.parent, cases_per_department=10)  # the next night's marts: fewer cases
    second = pub.publish(SYNTHETIC_MARTS, run_id="run00002")
    open_data.publish_from(paths.generations_dir() / f"{second.generation}.duckdb")
    assert aggregates(paths.open_data_dir()) == made_from(second.generation) \
        != made_from(first["generation"])

    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "rollback", first["generation"]],
        env={**os.environ, "DATENWERK_HOME": str(exported.parent)},
        capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stderr
    assert f"open_data rewritten from generation {first['generation']}" in done.stdout
    assert aggregates(paths.open_data_dir()) == made_from(first["generation"])


def test_only_departments_whose_rows_changed_are_rewritten(exported: Path) -> None:
    from warehouse import paths

    def state(department: str) -> dict[str, tuple[int, bytes]]:
        folder = (exported / department / "latest").resolve()
        return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.iterdir()}

    sb, sub = state("SB"), state("SUB")
    first = pub.current_manifest()
    assert first is not None
    with duckdb.connect(str(paths.build_db())) as con:  # one SB case closes; SUB's rows stay
        changed = con.execute(
            "update marts.fct_cases set end_date = date '2024-12-31' where case_id = ("
            "select min(case_id) from marts.fct_cases where department_code = 'SB')").fetchall()
    assert changed == [(1,)]
    pub.publish(SYNTHETIC_MARTS, run_id="run00002")
    results = {r.department: r for r in ex.export_departments(
        date=ex.publication_day(first) + dt.timedelta(days=1))}

    assert results["SUB"].unchanged and state("SUB") == sub  # not a byte, not an mtime changed
    assert results["SUB"].generation.endswith("run00001")
    assert not results["SB"].unchanged and results["SB"].generation.endswith("run00002")
    assert state("SB") != sb
    manifest = json.loads((exported / "SB" / "latest" / "manifest.json").read_text())
    assert manifest["run_id"] == "run00002" and manifest["fingerprint"] == ex.content_fingerprint(
        duckdb.connect(str(pub.current_generation_file()), read_only=True),
        ex.load_all_configs()[0])


def test_a_federation_files_exports_by_organisation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two members with the same department code: one folder each in a federation, else refused.
    files = []
    for org in ("swm", "dwb"):
        path = tmp_path / org / "departments.yml"
        path.parent.mkdir()
        path.write_text(f"organisation_code: {org}\ndepartments:\n"
                        "  - code: SB\n    marts: [fct_cases]\n", encoding="utf-8")
        files.append(path)
    monkeypatch.delenv("DATENWERK_FEDERATION", raising=False)
    with pytest.raises(ex.ExportConfigError, match="department SB is configured in"):
        ex.load_all_configs(files)
    monkeypatch.setenv("DATENWERK_FEDERATION", "1")
    departments = ex.load_all_configs(files)
    assert [d.name for d in departments] == ["swm/SB", "dwb/SB"]
    assert [d.folder.relative_to(d.folder.parents[1]) for d in departments] == [
        Path("swm/SB"), Path("dwb/SB")]


def test_a_federation_sends_no_mart_without_its_organisation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A mart cut by department alone would carry every member's department of that code.
    department = [ex.DepartmentExport("swm", "SB", ("fct_cases",), ("csv",), 1, Path("d.yml"))]
    with duckdb.connect() as con:
        con.execute("create table fct_cases (department_code varchar, case_id varchar)")
        monkeypatch.delenv("DATENWERK_FEDERATION", raising=False)
        ex.validate_against_publication(con, department)
        monkeypatch.setenv("DATENWERK_FEDERATION", "1")
        with pytest.raises(ex.ExportConfigError, match="no organisation_code column"):
            ex.validate_against_publication(con, department)
