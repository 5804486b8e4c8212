"""The asset graph is one connected graph: dlt tables feed their staging models, checks guard
the marts that are published."""

from __future__ import annotations

from dagster import AssetKey


def test_every_dlt_table_feeds_its_staging_model() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    raw_keys = [k for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_")]
    assert len(raw_keys) >= 15
    for key in raw_keys:
        source = key.path[0].removeprefix("raw_")
        staging = AssetKey([f"stg_{source}__{key.path[1]}"])
        assert staging in graph.get(key).child_keys, f"{key.to_user_string()} feeds no {staging}"
        assert graph.get(key).group_name == "ingestion"


def test_publish_is_downstream_of_every_checked_mart() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    published = AssetKey(["published_marts"])
    upstream = graph.get(published).parent_keys
    checked = {
        k.asset_key for k in graph.asset_check_keys
        if k.name.startswith("gx_") and not k.name.startswith("gx_batch_")
    }
    assert checked and checked <= upstream
    # every raw table is an ancestor of a publication (the marts, or open data for the public
    # directory)
    ancestors: set[AssetKey] = set()
    frontier = {k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "publish"}
    assert published in frontier
    while frontier:
        parents = {p for k in frontier for p in graph.get(k).parent_keys}
        frontier = parents - ancestors
        ancestors |= parents
    raw = {k for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_")}
    assert raw <= ancestors


def test_publish_waits_for_every_blocking_check_and_exports_follow_it() -> None:
    from orchestration.checks import CHECKS
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    published = AssetKey(["published_marts"])
    # checks in their own steps (not dbt tests, which run inside the dbt step): Dagster makes
    # publish wait for a blocking check only if it is on a direct parent
    blocking = {spec.asset_key for c in CHECKS for spec in c.check_specs if spec.blocking}
    assert AssetKey(["stg_accounting__bookings"]) in blocking
    assert blocking <= graph.get(published).parent_keys
    reports = graph.get(AssetKey(["impact_reports"]))
    assert reports.parent_keys == {published}
    exports = graph.get(AssetKey(["department_exports"]))
    # the export's manifest links the department's impact report of the same publication
    assert exports.parent_keys == {published, AssetKey(["impact_reports"])}
    assert exports.group_name == reports.group_name == graph.get(published).group_name == "publish"


def test_open_data_follows_the_publication_with_a_blocking_check() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    node = graph.get(AssetKey(["open_data"]))
    assert node.group_name == "publish"
    assert {
        AssetKey(["published_marts"]),
        AssetKey(["stg_reference__locations"]),
    } <= node.parent_keys
    checks = [k for k in graph.asset_check_keys if k.asset_key == AssetKey(["open_data"])]
    assert [k.name for k in checks] == ["no_disclosure"]
    assert graph.get_check_spec(checks[0]).blocking
