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
    # every raw table is an ancestor of the publication
    ancestors: set[AssetKey] = set()
    frontier = {published}
    while frontier:
        parents = {p for k in frontier for p in graph.get(k).parent_keys}
        frontier = parents - ancestors
        ancestors |= parents
    raw = {k for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_")}
    assert raw <= ancestors
