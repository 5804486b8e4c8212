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
    checked = {k.asset_key for k in graph.asset_check_keys if k.name.startswith("gx_")}
    assert checked and checked <= upstream
    for key in checked:
        assert graph.get_checks_def(
            next(c for c in graph.asset_check_keys if c.asset_key == key and c.name.startswith("gx_"))
        ).check_specs_by_output_name  # the check exists as a definition
    # every raw table is an ancestor of the publication
    ancestors = graph.get_ancestor_asset_keys({published})
    assert all(k in ancestors for k in graph.get_all_asset_keys() if k.path[0].startswith("raw_"))
