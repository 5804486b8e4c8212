"""A new mart is one .sql plus one .yml: in a copy of the dbt project, a mart nobody's Python
knows is built, checked by its Great Expectations suite, published and exported to a department
by a real `datenwerk run` on the small demo."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import yaml

from warehouse.paths import TRANSFORM_DIR

MART = "mart_cases_per_department"
SQL = """\
select
    organisation_code,
    department_code,
    count(*) as n_cases,
    count(*) filter (where status = 'closed') as n_cases_closed
from {{ ref('fct_cases') }}
group by organisation_code, department_code
"""
YAML = f"""\
version: 2
models:
  - name: {MART}
    description: Cases per department (a mart added by a test, without any Python change).
    config:
      meta:
        owner: [stewards, team:quality-management]
        label_de: Fälle je Fachbereich
        publish: true
        department_export: department_code
        gx:
          keys: [[organisation_code, department_code]]
    columns:
      - name: organisation_code
        description: '{{{{ doc("organisation_code") }}}}'
        data_tests: [not_null]
        meta: {{label_de: Träger}}
      - name: department_code
        description: '{{{{ doc("department_code") }}}}'
        data_tests: [not_null]
        meta: {{label_de: Fachbereich}}
      - name: n_cases
        description: Cases of the department.
        meta: {{label_de: Fälle im Fachbereich}}
      - name: n_cases_closed
        description: Closed cases of the department.
        meta: {{label_de: Beendete Fälle im Fachbereich}}
"""


def project_with_new_mart(root: Path) -> Path:
    """A copy of the dbt project (without its build artefacts) plus the new mart's two files."""
    project = root / "transform"
    shutil.copytree(TRANSFORM_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    (project / "models" / "marts" / f"{MART}.sql").write_text(SQL, encoding="utf-8")
    (project / "models" / "marts" / f"{MART}.yml").write_text(YAML, encoding="utf-8")
    return project


def give_to_department(home: Path, department: str) -> None:
    """The organisation's departments.yml (its reference data) lists the new mart for one
    department: configuration, not code."""
    config = home / "inbox" / "reference" / "swm" / "departments.yml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    entry = next(d for d in data["departments"] if d["code"] == department)
    entry["marts"].append(MART)
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_a_new_mart_is_built_checked_published_and_exported(
    small_demo_home: Path, tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    shutil.copytree(small_demo_home, home)
    give_to_department(home, "SB")
    project = project_with_new_mart(tmp_path)
    env = {**os.environ, "DATENWERK_HOME": str(home), "DATENWERK_DBT_PROJECT_DIR": str(project)}

    run = subprocess.run([sys.executable, "-m", "orchestration.cli", "run"], env=env,
                         capture_output=True, text=True, timeout=1800, check=False)

    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    with duckdb.connect(str(home / "warehouse" / "build.duckdb"), read_only=True) as con:
        built = con.sql(f"select * from marts.{MART} order by all").df()
        cases = con.sql("select count(*) from marts.fct_cases").fetchall()[0][0]
    assert len(built) > 1 and built["n_cases"].sum() == cases
    suites = json.loads((home / "quality" / "data_docs" / "runs.json").read_text())
    assert [r["success"] for r in suites[f"gx_{MART}"]] == [True]
    assert f"gx_{MART}_row_count" in suites
    with duckdb.connect(str(home / "published" / "marts.duckdb"), read_only=True) as con:
        published = con.sql(f"select * from {MART} order by all").df()
    pd.testing.assert_frame_equal(published, built)
    latest = home / "exports" / "SB" / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    assert f"{MART}.csv" in {f["file"] for f in manifest["files"]}
    german = pd.read_csv(latest / f"{MART}.csv", sep=";", encoding="utf-8-sig")
    assert set(german["Fachbereich"]) == {"SB"}  # only the department's rows, German headers
    assert german["Fälle im Fachbereich"].sum() == built.loc[
        built["department_code"] == "SB", "n_cases"].sum()
    workbook = openpyxl.load_workbook(latest / f"{MART}.xlsx", read_only=True)
    assert workbook.sheetnames == ["Erläuterungen", "Fälle je Fachbereich"]
    assert not any(p.name.startswith(MART) for p in (home / "exports" / "SUB" / "latest").iterdir())
