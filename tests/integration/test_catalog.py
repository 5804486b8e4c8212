"""`make docs` builds the data catalog: one self-contained HTML file under DATENWERK_HOME that
describes every mart and column and names the exposures, without any network access."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.conftest import PipelineRun, copy_home

ROOT = Path(__file__).parents[2]
MARTS = ("fct_cases", "fct_goals", "fct_assessment_change", "mart_outcomes",
         "mart_outcomes_by_dimension", "mart_impact", "mart_srs_report", "dim_department",
         "dim_program", "dim_cost_centre", "dim_date")


def test_make_docs_builds_an_offline_catalog(first_run: PipelineRun) -> None:
    home = copy_home(first_run.home, "catalog")
    result = subprocess.run(
        ["make", "-s", "docs"], cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "DATENWERK_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
             # nothing may be fetched: a proxy that does not exist makes any attempt fail
             "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    page = home / "docs" / "catalog" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?://", html)  # self-contained
    manifest = json.loads((home / "docs" / "catalog" / "manifest.json").read_text())
    catalog = json.loads((home / "docs" / "catalog" / "catalog.json").read_text())
    for mart in (*MARTS, "mart_deliveries", "mart_finance_by_cost_centre_month"):
        node = manifest["nodes"][f"model.datenwerk.{mart}"]
        meta = {**node.get("meta", {}), **node["config"].get("meta", {})}
        assert node["description"] and meta["owner"] and meta["data_steward"], mart
        built = catalog["nodes"][f"model.datenwerk.{mart}"]["columns"]
        for column in built:  # every column of the built table is described
            assert node["columns"][column]["description"], (mart, column)
        assert mart in html
    exposures = {e["name"] for e in manifest["exposures"].values()}
    assert {"department_exports", "open_data", "funder_report"} <= exposures
