"""The demo's pilot departments (SB, SUB) get their own rows of the published marts after the
first run, in every configured format, and nothing of any other department."""

from __future__ import annotations

import json
import os

import duckdb
import openpyxl
import pandas as pd
import pytest

from tests.conftest import PipelineRun

MARTS = ("fct_cases", "mart_outcomes", "mart_finance_by_cost_centre_month")


def published(run: PipelineRun, query: str) -> pd.DataFrame:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.sql(query).df()


@pytest.mark.parametrize("department", ["SB", "SUB"])
def test_pilot_department_gets_exactly_its_rows(first_run: PipelineRun, department: str) -> None:
    exports = first_run.home / "exports"
    assert sorted(p.name for p in exports.iterdir()) == ["SB", "SUB"]  # pilots only
    latest = exports / department / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    current = json.loads((first_run.home / "published" / "marts.manifest.json").read_text())
    assert manifest["generation"] == current["generation"]
    assert os.readlink(latest) == manifest["date"]
    for mart in MARTS:
        expected = published(first_run, f"select * from {mart} "
                                         f"where department_code = '{department}'")
        assert len(expected) > 0
        frame = pd.read_parquet(latest / f"{mart}.parquet")
        assert set(frame["department_code"]) == {department}
        assert len(frame) == len(expected)
        german = pd.read_csv(latest / f"{mart}.csv", sep=";", decimal=",",
                             encoding="utf-8-sig", dtype={"Kostenstelle": str})
        assert len(german) == len(expected) and set(german["Fachbereich"]) == {department}
        workbook = openpyxl.load_workbook(latest / f"{mart}.xlsx", read_only=True)
        assert workbook.sheetnames[0] == "Erläuterungen"
        rows = list(workbook.worksheets[1].iter_rows(values_only=True))
        assert len(rows) - 1 == len(expected)
        code_col = rows[0].index("Fachbereich")
        assert {r[code_col] for r in rows[1:]} == {department}
        rows_in_manifest = {f["rows"] for f in manifest["files"] if f["mart"] == mart}
        assert rows_in_manifest == {len(expected)}
    german = pd.read_csv(latest / "mart_finance_by_cost_centre_month.csv", sep=";",
                         decimal=",", encoding="utf-8-sig")
    total = published(first_run, "select sum(costs_eur) as s from mart_finance_by_cost_centre_month"
                                 f" where department_code = '{department}'")["s"][0]
    assert german["Kosten (€)"].sum() == pytest.approx(float(total), abs=0.005)


@pytest.mark.parametrize("department", ["SB", "SUB"])
def test_department_gets_its_own_delivery_status(first_run: PipelineRun, department: str) -> None:
    latest = first_run.home / "exports" / department / "latest"
    frame = pd.read_parquet(latest / "mart_deliveries.parquet")
    expected = published(first_run, "select source_file from mart_deliveries "
                                     f"where department_code = '{department}'")
    assert len(frame) == len(expected) > 0
    assert all(f.startswith(f"case_management/swm/{department}/") for f in frame["source_file"])
    workbook = openpyxl.load_workbook(latest / "mart_deliveries.xlsx", read_only=True)
    assert workbook.sheetnames == ["Erläuterungen", "Lieferungen"]
    header = next(workbook["Lieferungen"].iter_rows(values_only=True))
    assert {"Datei", "Ergebnis", "Zeilen gelesen", "Zeilen zurückgestellt"} <= set(header)
