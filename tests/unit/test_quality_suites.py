"""Mart and batch suites derived from names and the data standard, on small frames."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from quality import batches, suites

pytestmark = pytest.mark.usefixtures("dbt_manifest")  # marts' meta in dbt


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    return tmp_path


def failed_columns(result: suites.CheckResult) -> set[str]:
    return {",".join(f["columns"]) for f in result.failed}


def test_rate_above_one_fails_the_suite(home: Path) -> None:
    frame = pd.DataFrame(
        {
            "organisation_code": ["swm", "swm"],
            "program_code": ["A", "B"],
            "year": [2024, 2024],
            "planned_end_rate": [0.5, 1.5],
            "goal_attainment_rate": [0.5, None],
            "share_improved": [0.1, 0.2],
            **{c: [2, 2] for c in ("cases_closed", "planned_ends", "goals_rated",
                                   "goals_achieved", "assessed_pairs", "improved_pairs")},
        }
    )
    result = suites.validate("mart_outcomes", frame)
    assert not result.success
    assert failed_columns(result) == {"planned_end_rate"}
    assert result.failed[0]["unexpected_count"] == 1
    assert result.failed[0]["sample_values"] == [1.5]
    frame.loc[1, "planned_end_rate"] = 1.0
    assert suites.validate("mart_outcomes", frame).success


def test_a_new_mart_is_checked_by_its_column_names(home: Path) -> None:
    """A mart nobody registered (as mart_srs_report is today) gets its suite from its names."""
    frame = pd.DataFrame(
        {
            "program_code": ["A", "A", "B"],
            "year": [2025, 2025, 1850],
            "share_female": [0.4, 1.2, 0.5],
            "dropout_rate": [0.1, 0.2, -0.1],
            "n_clients": [3, -1, 5],
            "cases_open": [1, 1, 1],
            "contact_count": [0, 2, 3],
            "costs_eur": [10.0, -5.0, 0.0],
            "net_eur": [-100.0, 5.0, 0.0],
            "median_duration_days": [3, -2, 1],
            "contact_minutes": [30, 0, -1],
            "is_pilot": [True, False, True],
        }
    )
    spec = suites.MartSpec("mart_srs_report", keys=(("program_code", "year"),))
    result = suites.validate("mart_srs_report", frame, spec=spec)
    assert failed_columns(result) == {
        "program_code,year", "year", "share_female", "dropout_rate", "n_clients",
        "costs_eur", "median_duration_days", "contact_minutes",
    }
    unique = next(f for f in result.failed if f["columns"] == ["program_code", "year"])
    assert unique["unexpected_count"] == 2
    # The registry's extras apply by name: finance costs may be negative per row.
    finance = suites.validate(
        "mart_finance_by_cost_centre_month",
        pd.DataFrame({"costs_eur": [-5.0], "amount_eur": [-5.0], "category_type": ["cost"],
                      "booking_lines": [1]}),
    )
    assert finance.success, finance.summary()
    assert any("no unique key" in n for n in suites.validate(
        "mart_nothing_declared", pd.DataFrame({"n_x": [1]})).notes)


def test_identifiers_are_never_shown(home: Path) -> None:
    frame = pd.DataFrame({"organisation_code": ["swm", "swm"], "case_id": ["F-1", "F-1"],
                          "client_id": ["abc", "abc"], "contacts": [1, 2]})
    result = suites.validate("fct_cases", frame)
    [dup] = result.failed
    assert dup["columns"] == ["organisation_code", "case_id"]
    assert dup["sample_values"] == "(not shown: identifier or free text)"
    stored = "".join(p.read_text() for p in (home / "quality").rglob("*.json"))
    stored += "".join(p.read_text() for p in (home / "quality").rglob("*.html"))
    assert "F-1" not in stored
    assert "gx_fct_cases" in stored


def test_row_count_band_against_the_last_publication(home: Path) -> None:
    first = suites.validate_row_count("fct_cases", 100)
    assert first.success and "first publication" in first.notes[0]
    # the last publication's row counts, as warehouse.publish records them in its manifest
    manifest = home / "published" / "marts.manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"generation": "g1", "row_counts": {"fct_cases": 100}}))
    assert suites.validate_row_count("fct_cases", 129, band=0.3).success
    assert suites.validate_row_count("fct_cases", 71, band=0.3).success
    low = suites.validate_row_count("fct_cases", 69, band=0.3)
    assert not low.success and low.failed[0]["observed_value"] == "69"
    assert not suites.validate_row_count("fct_cases", 0, band=1.0).success
    runs = json.loads((home / "quality" / "data_docs" / "runs.json").read_text())
    assert [r["success"] for r in runs["gx_fct_cases_row_count"]] == [False, False, True, True,
                                                                        True]
    # The published count itself (a mart a delivery did not change): listed, no GX run.
    same = suites.validate_row_count("fct_cases", 100, band=0.0)
    assert same.success and same.page is None and "as many as" in same.notes[0]
    runs = json.loads((home / "quality" / "data_docs" / "runs.json").read_text())
    assert runs["gx_fct_cases_row_count"][0]["rows"] == 100


def test_every_mart_with_meta_gx_is_discovered() -> None:
    import orchestration.transform  # noqa: F401 - parses the dbt project when its manifest is stale

    manifest = json.loads(suites.manifest_path().read_text())
    in_marts = {n["name"] for n in manifest["nodes"].values()
                if n["resource_type"] == "model" and n["fqn"][1] == "marts"}
    found = {m.name: m for m in suites.discover_marts()}
    assert set(found) == in_marts  # every mart is published, so every one has a suite
    assert ("organisation_code", "case_id") in found["fct_cases"].keys
    assert found["fct_goals"].rules.between["weight"] == (1, 10)  # meta.gx of its YAML


def test_batch_suite_follows_the_data_standard(home: Path) -> None:
    from ingestion.standard import standard

    spec = standard()["cases"]
    ok = "0123456789abcdef0123456789abcdef"
    frame = pd.DataFrame({
        "organisation_code": ["swm"] * 3, "department_code": ["SB"] * 3,
        "source_sha256": ["f"] * 3, "source_line": [2, 3, 4],
        "case_id": [ok, "f" * 32, "f" * 32], "client_id": [ok, "K-000001", ok],
        "program_code": ["P", "P", None], "referral_source": [None] * 3,
        "start_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        "end_date": pd.to_datetime(["2024-02-01", "2024-01-01", None]),
        "end_reason": ["planned", "eloped", None], "caseworker_id": [ok, None, ok],
        "contacts_total": [3, None, None], "contact_minutes_total": [None] * 3,
        "problem_area": [None] * 3, "problem_area_result": ["improved", None, None],
    })
    result = suites.run_suite(batches.entity_suite(spec, "gx_batch_cases"), frame,
                              asset_name="cases", run_name="unit",
                              showable=suites.showable_columns(frame, ["end_reason"]))
    by_columns = {",".join(f["columns"]): f for f in result.failed}
    assert set(by_columns) == {"source_sha256,case_id", "client_id", "program_code",
                               "end_reason", "end_date,start_date"}
    assert by_columns["end_reason"]["sample_values"] == ["eloped"]
    assert by_columns["client_id"]["sample_values"].startswith("(not shown")


def test_data_docs_pages_from_templates_compiled_once(home: Path) -> None:
    """The pages of a second validation come from templates compiled for the first (kept
    under the home) and show the same expectations."""
    from warehouse import paths

    frame = pd.DataFrame({"organisation_code": ["swm"], "case_id": ["F-1"], "n_contacts": [-1]})
    first = suites.validate("fct_cases", frame, run_name="first")
    compiled = {p.name: p.stat().st_mtime_ns for p in paths.docs_template_cache_dir().iterdir()}
    assert compiled, "the templates GX rendered with are kept compiled"
    second = suites.validate("fct_cases", frame, run_name="second")
    assert {p.name: p.stat().st_mtime_ns
            for p in paths.docs_template_cache_dir().iterdir()} == compiled  # none compiled anew
    pages = [Path(r.page).read_text(encoding="utf-8") for r in (first, second)  # type: ignore[arg-type]
             if r.page]
    assert len(pages) == 2 and all("n_contacts" in page for page in pages)
    assert pages[0].count("expect") == pages[1].count("expect") > 0
