"""Every asset as the UI shows it: a snapshot of the wiring, and the metadata each must carry.

The snapshot (tests/snapshots/asset_specs.json) lists every asset's key, deps, group, owners,
kinds and checks, and the jobs, schedules and sensors. A change in wiring fails this test and
shows in review as a diff of that file. After an intended change:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/integration/test_asset_specs.py
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from dagster import DagsterEventType

from tests.conftest import PipelineRun

SNAPSHOT = Path(__file__).parent.parent / "snapshots" / "asset_specs.json"
GROUPS = {"ingestion", "transform", "quality", "publish"}
# the stack that made the asset, and for files handed out, their formats
KINDS = {"dlt", "dbt", "duckdb", "great_expectations", "csv", "excel", "parquet", "json",
         "html", "pdf"}
OWNER = re.compile(r"^(team:[\w.-]+|[^@\s]+@[^@\s]+\.[^@\s]+)$")


def current_specs() -> dict:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "owners": sorted(node.owners),
            "kinds": sorted(node.kinds),
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "checks": sorted(
                f"{c.name}{' (blocking)' if graph.get_check_spec(c).blocking else ''}"
                for c in node.check_keys
            ),
            "freshness_policy": repr(node.freshness_policy) if node.freshness_policy else None,
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": {
            s.name: f"{s.cron_schedule} {s.execution_timezone} ({s.default_status.value})"
            for s in defs.schedules or []
        },
        "sensors": {s.name: s.default_status.value for s in defs.sensors or []},
    }


def test_asset_specs_match_the_snapshot() -> None:
    current = current_specs()
    text = json.dumps(current, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(text, encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    for key in sorted(set(expected["assets"]) | set(current["assets"])):
        assert current["assets"].get(key) == expected["assets"].get(key), (
            f"{key} changed; if intended, run UPDATE_SNAPSHOTS=1 pytest {__file__}"
        )
    assert current == expected, f"wiring changed; if intended, UPDATE_SNAPSHOTS=1 pytest {__file__}"


def test_every_asset_has_description_owners_kinds_and_group() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert (node.description or "").strip(), f"{name} has no description"
        assert node.owners and all(OWNER.match(o) for o in node.owners), f"{name}: {node.owners}"
        assert node.kinds and node.kinds <= KINDS, f"{name}: kinds {node.kinds}"
        assert node.group_name in GROUPS, f"{name}: group {node.group_name}"
        # the UI renders descriptions as Markdown: a bare <department> would vanish as HTML
        outside_code = re.sub(r"`[^`]*`", "", node.description or "")
        assert not re.search(r"<[A-Za-z/]", outside_code), f"{name}: unescaped <...>"


def test_stewards_own_their_data_and_match_the_reference(demo_home: Path) -> None:
    """The stewards' names are those of the reference departments.csv; each one owns the
    case-management tables and the marts built from them."""
    import csv

    from dagster import AssetKey

    from orchestration.definitions import defs
    from orchestration.stewards import stewards

    with (demo_home / "inbox" / "reference" / "swm" / "departments.csv").open(
        encoding="utf-8"
    ) as fh:
        reference = {r["department_code"]: r["data_steward"] for r in csv.DictReader(fh)}
    config = stewards().departments
    assert {code: s.name for (org, code), s in config.items() if org == "swm"} == reference
    graph = defs.resolve_asset_graph()
    for asset in (["raw_case_management", "cases"], ["fct_cases"]):
        owners = graph.get(AssetKey(asset)).owners
        assert {s.email for s in config.values()} <= set(owners), asset


def test_materialisations_carry_row_counts(first_run: PipelineRun) -> None:
    """Every table the run materialised reports its row count (dbt views excepted: a view has
    no rows of its own)."""
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    missing = []
    counted = 0
    for event in first_run.result.all_events:  # type: ignore[attr-defined]
        if event.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        materialization = event.step_materialization_data.materialization
        key = materialization.asset_key
        if key.path[0].startswith("stg_"):
            continue  # staging models are views
        if "dagster/row_count" in materialization.metadata:
            counted += 1
        else:
            missing.append(key.to_user_string())
    assert not missing, f"no dagster/row_count on {missing}"
    assert counted >= len([k for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_")])
