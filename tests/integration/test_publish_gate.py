"""A broken mart fails its blocking check, nothing is published, and the last good publication
stays byte for byte as it was."""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

from dagster import AssetKey

from tests.conftest import BlockedNight, PipelineRun, copy_home, run_nightly, use_home


def snapshot(root: Path) -> dict[str, str]:
    """Every file (sha256) and symlink (target) under ``root``: equal snapshots, equal trees."""
    state = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            state[key] = "-> " + os.readlink(path)
        elif path.is_file():
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def materialised(result) -> set[AssetKey]:  # type: ignore[no-untyped-def]
    return {e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"}


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


def test_failed_check_blocks_publication(night_blocked_by_a_huge_credit: BlockedNight) -> None:
    # The way of the money only: the accounting load, the models from the bookings to the marts
    # that take money from them, their checks, publication and the exports (the gate decides from
    # the checks of the run's selection; everything else is as the good run left it).
    night = night_blocked_by_a_huge_credit
    home, result = night.home, night.result
    published = home / "published" / "marts.duckdb"
    before = night.marts_before
    publications_before = night.published_before
    exports_before = night.exports_before
    assert any(k.startswith("SB/latest") for k in exports_before)

    assert not result.success
    evaluations = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    failed = evaluations["gx_mart_impact"]
    assert not failed.passed
    failures = failed.metadata["failed_expectations"].value
    expected = {"expectation": "expect_column_values_to_be_between", "columns": ["costs_eur"]}
    assert expected.items() <= failures[0].items()
    materialised = {
        e.asset_key for e in result.all_events if e.event_type_value == "ASSET_MATERIALIZATION"
    }
    assert AssetKey(["mart_impact"]) in materialised  # it was rebuilt ...
    assert AssetKey(["published_marts"]) not in materialised  # ... but not published
    assert AssetKey(["department_exports"]) not in materialised
    assert published.read_bytes() == before
    assert snapshot(home / "published") == publications_before  # no new generation either
    assert snapshot(home / "exports") == exports_before


def test_failed_dbt_test_blocks_publication(small_first_run: PipelineRun) -> None:
    """A re-delivered programs.csv names a department that does not exist: dbt's relationships
    test on the staging model fails (a dbt test, shown as a Dagster asset check), and nothing
    downstream of the run reaches analysts, departments or the public."""
    home = copy_home(small_first_run.home, "failed-dbt-test")
    publications_before = snapshot(home / "published")
    exports_before = snapshot(home / "exports")
    open_data_before = snapshot(home / "open_data.generations")
    programs = home / "inbox" / "reference" / "swm" / "programs.csv"
    programs.write_text(programs.read_text(encoding="utf-8") + "swm,XX-NEU,XX,Neues Programm\n",
                        encoding="utf-8")

    result = run_nightly(home)

    assert not result.success
    failed = [
        e.event_specific_data for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    assert [(c.asset_key, c.check_name.split("_")[0]) for c in failed] == [
        (AssetKey(["stg_reference__programs"]), "relationships")
    ]
    assert AssetKey(["published_marts"]) not in materialised(result)
    assert AssetKey(["department_exports"]) not in materialised(result)
    assert AssetKey(["open_data"]) not in materialised(result)
    assert snapshot(home / "published") == publications_before
    assert snapshot(home / "exports") == exports_before
    assert snapshot(home / "open_data.generations") == open_data_before


def test_a_crashing_check_blocks_publication(small_first_run: PipelineRun) -> None:
    """A check that raises (no result at all) on an ingestion asset, which publish does not
    depend on: publish does not run, nothing changes, the run fails."""
    from dagster import (
        AssetSelection,
        DagsterInstance,
        Definitions,
        asset_check,
        define_asset_job,
        in_process_executor,
    )

    from orchestration.definitions import defs

    raw = min(k for k in defs.resolve_asset_graph().get_all_asset_keys()
              if k.path[0] == "raw_case_management")

    @asset_check(asset=raw, name="crashes", blocking=True)
    def crashes() -> None:  # type: ignore[return]
        raise RuntimeError("simulated crash inside a check")

    crashing = Definitions(
        assets=list(defs.assets or []),
        asset_checks=[*(defs.asset_checks or []), crashes],
        jobs=[define_asset_job("nightly_refresh", selection=AssetSelection.all(),
                               executor_def=in_process_executor)],
        resources=defs.resources,
    )
    home = copy_home(small_first_run.home, "crashing-check")
    publications_before = snapshot(home / "published")
    exports_before = snapshot(home / "exports")
    use_home(home)
    with DagsterInstance.ephemeral() as instance:
        result = crashing.resolve_job_def("nightly_refresh").execute_in_process(
            instance=instance, raise_on_error=False)

    assert not result.success
    assert AssetKey(["published_marts"]) not in materialised(result)
    assert AssetKey(["department_exports"]) not in materialised(result)
    assert snapshot(home / "published") == publications_before
    assert snapshot(home / "exports") == exports_before


def test_rate_above_one_fails_the_suite(tmp_path: Path) -> None:
    import pandas as pd

    from quality.suites import validate

    use_home(tmp_path)  # the suite's results go to a home's Data Docs

    frame = pd.DataFrame(
        {
            "organisation_code": ["swm", "swm"],
            "department_code": ["D", "D"],
            "program_code": ["A", "B"],
            "period_type": ["year", "year"],
            "period_start": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "planned_end_rate": [0.5, 1.5],
            "goal_attainment_rate": [0.5, None],
            "share_improved": [0.1, 0.2],
            **{c: [2, 2] for c in ("n_cases_closed", "n_planned_ends", "n_goals_rated",
                                   "n_goals_achieved", "n_assessed_pairs", "n_improved_pairs")},
        }
    )
    result = validate("mart_outcomes", frame)
    assert not result.success
    assert [f["columns"] for f in result.failed] == [["planned_end_rate"]]
    assert result.failed[0]["unexpected_count"] == 1
    frame.loc[1, "planned_end_rate"] = 1.0
    assert validate("mart_outcomes", frame).success
