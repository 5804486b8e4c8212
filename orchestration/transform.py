"""Dagster assets for the dbt project (``transform/``) via dagster-dbt; dbt tests become checks."""


import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MetadataValue,
    Output,
)
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from quality import holds
from warehouse import gate, paths, settings

from .faults import RETRY_POLICY, classified_faults
from .ingestion import WAREHOUSE_POOL
from .stewards import as_owner, stewards

DBT_PROJECT = DbtProject(project_dir=paths.TRANSFORM_DIR, profiles_dir=paths.TRANSFORM_DIR)


def _manifest_is_stale(project: DbtProject) -> bool:
    manifest = project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [paths.TRANSFORM_DIR / "dbt_project.yml", paths.TRANSFORM_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources.extend((paths.TRANSFORM_DIR / folder).rglob("*"))
    return any(p.is_file() and p.stat().st_mtime > built for p in sources)


def dbt_executable() -> str:
    """dbt from this interpreter's environment: `dagster dev` without an activated venv has no
    `dbt` on PATH, and a different dbt on PATH would be worse."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(
        project_dir=DBT_PROJECT,
        profiles_dir=str(paths.TRANSFORM_DIR),
        dbt_executable=dbt_executable(),
    )


if _manifest_is_stale(DBT_PROJECT):
    # The manifest is a build artefact of the code (not data): parse once when models change.
    # (dagster-dbt's own preparer looks for `dbt` on PATH, hence the explicit resource.)
    dbt_resource().cli(["parse", "--quiet"], target_path=DBT_PROJECT.target_path).wait()


class DatenwerkDbtTranslator(DagsterDbtTranslator):
    """Group ``transform``; sources keep ``[source, table]`` keys (the dlt tables' keys); owners
    from the stewards file (by model, then by folder) plus the model's ``meta.owner``."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=AssetKey([props["source_name"], props["name"]]))
        folders = props.get("fqn", [])[1:-1]  # [project, *folders, name]
        candidates = [props["name"]]
        candidates += ["/".join(folders[:i]) for i in range(len(folders), 0, -1)]
        if props["resource_type"] == "seed":
            candidates.append("seeds")
        owners = stewards().owners_for(candidates)
        meta_owner = (props.get("meta") or {}).get("owner") or (
            (props.get("config") or {}).get("meta") or {}
        ).get("owner")
        if meta_owner:
            owners = list(dict.fromkeys([*owners, as_owner(str(meta_owner))]))
        return spec.replace_attributes(
            key=AssetKey([props["name"]]), group_name="transform", owners=owners
        )


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=DatenwerkDbtTranslator(),
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY_POLICY,
)
def transform_assets(context: AssetExecutionContext, dbt: DbtCliResource) -> Iterator[Any]:
    """Build staging, intermediate and mart models with `dbt build` (models and their tests).

    A full refresh when one was requested (``datenwerk run --full-refresh``, or a released held
    load: incremental models read only loads newer than their last build).
    """
    os.environ["DATENWERK_BUILD_DB"] = str(paths.build_db())
    os.environ["DATENWERK_HELD_LOADS"] = str(holds.held_dir())
    full_refresh = holds.full_refresh_requested()
    if full_refresh:
        context.log.info("Full refresh requested: rebuilding incremental models from all loads.")
    target = paths.dbt_target_dir() / context.run_id
    # Events are held until dbt has finished: then one short read-only connection counts the rows
    # of each table it built (dagster-dbt's fetch_row_counts() keeps connections open while dbt
    # still writes, and dbt-duckdb reports no rows in its adapter response).
    events: list[Any] = []
    try:
        with classified_faults(context.retry_number):
            invocation = dbt.cli(["build", *(["--full-refresh"] if full_refresh else [])],
                                 context=context, target_path=target)
            events.extend(invocation.stream())
        # Only a build of every model answers the request (a partial one may miss contacts).
        everything = set(context.selected_asset_keys) >= set(transform_assets.keys)
        if full_refresh and everything and invocation.is_successful():
            holds.clear_full_refresh_request()
    finally:
        prune_dbt_targets(settings.keep_generations(), keep_also=target)
        record_dbt_tests(context, events)
        keys = {key.to_python_identifier(): key for key in context.assets_def.keys}
        yield from with_row_counts(events, keys)


def prune_dbt_targets(keep: int, keep_also: Path | None = None) -> list[Path]:
    """Remove all but the newest ``keep`` run folders of dbt's target (as many as generations of
    the marts are kept: the dbt artefacts of every kept publication stay); return the removed."""
    root = paths.dbt_target_dir()
    if not root.is_dir():
        return []
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    removed = [p for p in runs[: max(len(runs) - keep, 0)] if p != keep_also]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    return removed


def record_dbt_tests(context: AssetExecutionContext, events: list[Any]) -> None:
    """Record dbt's test results against the content dbt tested (dbt has finished: nothing
    writes between its tests and this read). Without a record the gate refuses (fail closed)."""
    results = [
        (e.asset_key.path[-1], e.check_name, e.passed, e.severity.value, e.description or "")
        for e in events
        if isinstance(e, AssetCheckResult) and e.asset_key is not None and e.check_name
        and len(e.asset_key.path) == 1
    ]
    if not results:
        return
    try:
        gate.record(results, run_id=context.run_id)
    except (duckdb.Error, OSError) as exc:
        context.log.error(f"dbt test results not recorded for the publish gate: {exc!r}")


def with_row_counts(events: list[Any], keys_by_output: Mapping[str, AssetKey]) -> Iterator[Any]:
    """The events, with ``dagster/row_count`` on each materialised table (views have none)."""
    built = {e.output_name: keys_by_output[e.output_name] for e in events
             if isinstance(e, Output) and e.output_name in keys_by_output}
    counts: dict[str, int] = {}
    if built and paths.build_db().exists():
        try:
            with duckdb.connect(str(paths.build_db()), read_only=True) as con:
                tables = dict(con.sql(
                    "select table_name, table_schema from information_schema.tables "
                    "where table_type = 'BASE TABLE'"
                ).fetchall())
                for output, key in built.items():
                    name = key.path[-1]
                    if name in tables:
                        counts[output] = con.sql(
                            f'select count(*) from "{tables[name]}"."{name}"'
                        ).fetchall()[0][0]
        except duckdb.Error:  # counts are a courtesy; never mask the build's own outcome
            counts.clear()
    for event in events:
        if isinstance(event, Output) and event.output_name in counts:
            event = event.with_metadata(
                {**event.metadata, "dagster/row_count": MetadataValue.int(counts[event.output_name])}
            )
        yield event
