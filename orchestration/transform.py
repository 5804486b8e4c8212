"""Dagster assets for the dbt project (``transform/``) via dagster-dbt; dbt tests become checks."""


import fcntl
import graphlib
import hashlib
import json
import os
import signal
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSpec,
    Config,
    DagsterInstance,
    MetadataValue,
    Output,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DbtCliInvocation,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from warehouse import changes, gate, holds, lake, paths, settings
from warehouse.dbt_env import dbt_environment, dbt_executable
from warehouse.marts import declared_owners
from warehouse.publish import latest_published_at, record_unchanged

from .faults import RETRY_POLICY, classified_faults
from .ingestion import WAREHOUSE_POOL
from .runs import stop_child
from .stewards import stewards

DBT_PROJECT = DbtProject(project_dir=paths.TRANSFORM_DIR, profiles_dir=paths.TRANSFORM_DIR)
# What the manifest is parsed from: a change to any of these (or to dbt) parses again.
PROJECT_SOURCES = ("dbt_project.yml", "profiles.yml", "models", "macros", "tests", "seeds")
FINGERPRINT_FILE = "datenwerk_sources.sha256"


def project_fingerprint(project_dir: Path = paths.TRANSFORM_DIR) -> str:
    """SHA-256 of the dbt project's sources (names and contents) and of dbt's version: the key
    of the parsed manifest. Contents, not times: a checkout or a copy keeps a valid manifest."""
    digest = hashlib.sha256(f"dbt-core {metadata.version('dbt-core')}\n".encode())
    for name in PROJECT_SOURCES:
        root = project_dir / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            if path.exists():
                digest.update(f"{path.relative_to(project_dir)}\n".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _target(project: DbtProject) -> Path:
    return Path(project.project_dir) / project.target_path  # as dbt resolves it (cwd: project)


def _manifest_is_stale(project: DbtProject, fingerprint: str) -> bool:
    stamp = _target(project) / FINGERPRINT_FILE
    return not (project.manifest_path.exists() and stamp.exists()
                and stamp.read_text().strip() == fingerprint)


@contextmanager
def exclusive(lock_file: Path) -> Iterator[None]:
    """An advisory lock across processes, released when the block ends (or the process dies)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's resource. Its ``dbt --version`` before every invocation is answered by
    Datenwerk's entry point without starting dbt (:mod:`warehouse.dbt_cli`); the dbt adapter it
    sets up in every step (about 1 s) has no public switch, and private hooks are not used."""
    return DbtCliResource(
        project_dir=DBT_PROJECT,
        profiles_dir=str(paths.TRANSFORM_DIR),
        dbt_executable=dbt_executable(),
    )


@contextmanager
def ended(invocation: DbtCliInvocation) -> Iterator[DbtCliInvocation]:
    """``invocation`` for the block; when the block is left, however, its dbt process has ended
    and been waited for. dagster-dbt waits for dbt only once its events have been read to the
    end: an error while they were read (or an interrupt outside its own handler) closed dbt's
    output and left dbt running, writing to the warehouse beside a retry, then a zombie child of
    the run worker. dbt gets SIGINT first, as from dagster-dbt (it cancels its queries), and
    SIGKILL after dagster-dbt's own termination timeout."""
    try:
        yield invocation
    finally:
        stop_child(invocation.process, signal.SIGINT, invocation.termination_timeout_seconds)


@dataclass(frozen=True)
class EngineBuild:
    """How the dbt step builds on one engine (``DATENWERK_ENGINE``). What comes before (the
    loads, their checks and holds, all in ``build.duckdb``) and after (the mart checks, the
    gate, the publication, exports and open data, reading ``build.duckdb``) is the same.

    ``args``: added to ``dbt build`` (the profile's target); ``target_dir``: dbt's artefacts;
    ``keeps_nodes``: a build after new loads may keep what they do not reach (else every run
    builds all, in full); ``prepare``: before dbt (the dbt resource, the target folder);
    ``finish``: after dbt, whatever its outcome, before its results are recorded."""

    args: tuple[str, ...]
    target_dir: Callable[[], Path]
    keeps_nodes: bool
    prepare: Callable[[DbtCliResource, Path], None] = lambda dbt, target: None
    finish: Callable[[Path], object] = lambda target: None


def _prepare_lake(dbt: DbtCliResource, target: Path) -> None:
    """The raw tables and holds into the lake, registered in Spark's catalog."""
    lake.export_raw()
    with ended(dbt.cli(["run-operation", "register_lake_sources", "--target",
                        settings.ENGINES["spark"]], target_path=target)) as invocation:
        invocation.wait()


ENGINE_BUILDS = {
    "duckdb": EngineBuild(args=(), target_dir=paths.dbt_target_dir, keeps_nodes=True),
    # Plain Parquet has no delete or merge: every Spark build is a full one (the incremental
    # models are tables there). Its tables are then copied into build.duckdb.
    "spark": EngineBuild(args=("--target", settings.ENGINES["spark"]),
                         target_dir=lake.dbt_target_dir, keeps_nodes=False,
                         prepare=_prepare_lake,
                         finish=lambda target: lake.import_built(target / "manifest.json")),
}


def prepare_manifest(project: DbtProject = DBT_PROJECT) -> bool:
    """Parse the project into its manifest when its sources changed; True if it parsed.

    The manifest is a build artefact of the code (not data), shared by every home; a lock keeps
    two processes that start at once from parsing into the same folder."""
    fingerprint = project_fingerprint(Path(project.project_dir))
    if not _manifest_is_stale(project, fingerprint):
        return False
    target = _target(project)
    with exclusive(target / ".parse.lock"):
        if not _manifest_is_stale(project, fingerprint):
            return False
        os.environ.update(dbt_environment())
        # (dagster-dbt's own preparer looks for `dbt` on PATH, hence the explicit resource.)
        with ended(dbt_resource().cli(["parse", "--quiet"], target_path=target)) as invocation:
            invocation.wait()
        (target / FINGERPRINT_FILE).write_text(fingerprint + "\n")
    return True


prepare_manifest()


class DatenwerkDbtTranslator(DagsterDbtTranslator):
    """Group ``transform``; sources keep ``[source, table]`` keys (the dlt tables' keys); owners
    from the node's ``meta.owner`` in its YAML, else from the stewards file (by model, then by
    folder)."""

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
        declared = declared_owners(props)
        owners = (stewards().expand(declared) if declared
                  else stewards().owners_for(candidates))
        return spec.replace_attributes(
            key=AssetKey([props["name"]]), group_name="transform", owners=owners
        )


class TransformConfig(Config):
    """Run config of the dbt step (the launchpad shows it; `datenwerk run --full-refresh`)."""

    full_refresh: bool = Field(default=False, description=(
        "Rebuild the incremental models from every load (dbt build --full-refresh), and build "
        "even when nothing changed since the last publication."))


@dataclass(frozen=True)
class BuildPlan:
    """Why this run builds (nothing: it stops), and why as a full refresh (nothing: it does not).

    ``loaded``: when new loads are the only change, the dlt tables (schema, table) they filled;
    dbt then builds what depends on them and keeps the rest. None: everything is built."""

    reasons: list[str]
    full_refresh: list[str]
    loaded: frozenset[tuple[str, str]] | None = None


# Code whose change must reach the published content and its outputs even on a quiet night: the
# checks, the loaders' rules, publication, exports, reports and open data.
CODE_PACKAGES = ("ingestion", "quality", "warehouse", "orchestration")
PUBLISHED = AssetKey(["published_marts"])
# What the publication feeds: when one of these lags behind it (a failed export, a full disk),
# the next run builds again instead of finding nothing changed.
PUBLICATION_OUTPUTS = (AssetKey(["department_exports"]), AssetKey(["open_data"]),
                       AssetKey(["impact_reports"]))


def code_fingerprint(root: Path = paths.REPO_ROOT) -> str:
    """SHA-256 of the Python code of the four packages under ``root`` (by path within it)."""
    digest = hashlib.sha256()
    for package in CODE_PACKAGES:
        for source in sorted((root / package).rglob("*.py")):
            digest.update(f"{source.relative_to(root)}\n".encode())
            digest.update(hashlib.sha256(source.read_bytes()).digest())
    return digest.hexdigest()


def inputs_fingerprint() -> str:
    """The dbt project, the department export configuration and the code: a change to any of
    them rebuilds (a deploy that fixes a check or an export re-checks and rewrites)."""
    digest = hashlib.sha256(project_fingerprint().encode())
    digest.update(code_fingerprint().encode())
    for config in paths.departments_configs():
        # by name within the inbox: a home copied or moved elsewhere has the same inputs
        name = config.relative_to(paths.reference_inbox())
        digest.update(f"{name}\n".encode() + hashlib.sha256(config.read_bytes()).digest())
    return digest.hexdigest()


def outputs_behind_publication(instance: DagsterInstance) -> list[str]:
    """The outputs of the publication whose latest materialisation is older than it (or
    missing): a step that failed after publishing, to be done again by the next run."""
    published = instance.get_latest_materialization_event(PUBLISHED)
    if published is None:
        return []
    behind = []
    for key in PUBLICATION_OUTPUTS:
        event = instance.get_latest_materialization_event(key)
        if event is None or event.timestamp < published.timestamp:
            behind.append(key.to_user_string())
    return behind


def build_plan(full_refresh_asked: bool, outputs_behind: list[str] | None = None) -> BuildPlan:
    """Decide from recorded facts whether this run builds at all, and whether in full.

    Nothing to build when the current publication came after the last build, no load completed
    since it was published, no held load was released, the key, the dbt project and the code
    are the ones of the last build, every output of the publication followed it, and no full
    refresh was asked for (now, or by a run that did not complete it)."""
    record = changes.last_build()
    full = _full_refresh_reasons(record, full_refresh_asked)
    publication, new_loads = _publication_reasons(record)
    reasons = [*full, *publication]
    if record is not None and record.project_fingerprint != inputs_fingerprint():
        reasons.append("the dbt project, the department export configuration or the code "
                       "changed")
    if outputs_behind:
        reasons.append("outputs of the last publication did not complete: "
                       + ", ".join(outputs_behind))
    loaded = None
    if record is not None and new_loads and not reasons:
        # Every load completed before the last build started is in every model already.
        since = datetime.fromisoformat(record.built_at)
        loaded = frozenset(changes.tables_loaded_since(since)) or None
    return BuildPlan([*reasons, *new_loads], full, loaded)


def _full_refresh_reasons(record: changes.BuildRecord | None, asked: bool) -> list[str]:
    """Why the incremental models must be rebuilt from every load (empty: they need not)."""
    since_full = record.full_refresh_time if record else None
    full: list[str] = []
    if asked:
        full.append("a full refresh was asked for (run config full_refresh)")
    requested = changes.full_refresh_requested()
    if requested is not None and since_full is not None and requested > since_full:
        full.append(f"a full refresh asked for at {requested:%Y-%m-%d %H:%M:%S} UTC has not "
                    "completed yet")
    if since_full is None:
        full.append("no full build recorded for this installation yet")
    elif record is not None and record.full_refresh_project != project_fingerprint():
        # An incremental model's new code (or new columns) would otherwise meet the rows its
        # old code built.
        full.append("the dbt project changed since the last full build")
    released = holds.released_since(since_full)
    if released:
        full.append(f"held loads released since the last full build: {', '.join(released)}")
    key_at = changes.last_key_recorded()
    if key_at is not None and since_full is not None and key_at >= since_full:
        full.append("a new pseudonymisation key was recorded since the last full build")
    return full


def _publication_reasons(record: changes.BuildRecord | None) -> tuple[list[str], list[str]]:
    """What the current publication misses: it is absent or older than the last build (first
    list), or older than a completed load (second list)."""
    # The newest publication, not the current one: a rollback takes back what the last build
    # made, and the next run must not publish it again until something changed (a load, the
    # code, a request).
    published_at = latest_published_at()
    if published_at is None:
        return ["nothing is published yet"], []
    reasons = []
    if record is not None and datetime.fromisoformat(record.built_at) > published_at:
        reasons.append("the last build was not published")
    loaded = changes.last_completed_load()
    if loaded is None or loaded <= published_at:
        return reasons, []
    return reasons, [f"a load completed at {loaded:%Y-%m-%d %H:%M:%S} UTC, after the "
                     f"publication of {published_at:%Y-%m-%d %H:%M:%S} UTC"]


# Metadata of a model that a build after new loads kept as it was (nothing it reads changed):
# when the last build that did rebuild it started.
KEPT_SINCE = "datenwerk/kept_since"
# Metadata of every model a build after new loads materialised (kept or built again): the code,
# dbt project and configuration are those of every build since this time, so a check result
# recorded since then on the same content is the result this run's check would have.
SAME_INPUTS_SINCE = "datenwerk/same_inputs_since"
# Metadata of a check result reported again for unchanged content: the run that checked it.
KEPT_FROM = "kept_from_run"
# The dbt resources a partial build can leave as they are.
KEEPABLE = ("model", "seed", "snapshot", "test", "unit_test")


def kept_nodes(manifest: Mapping[str, Any], loaded: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The dbt nodes a build after new loads in ``loaded`` (schema, table of dlt) leaves as they
    are, unique id -> name: every model, seed and test that is not downstream of one of those
    tables, and every unit test (its fixtures and the model's code are those of the last build,
    or nothing would be kept). A test with one parent rebuilt runs (a relationship to a kept
    dimension)."""
    wanted = {(schema.lower(), table.lower()) for schema, table in loaded}
    pending = [uid for uid, source in manifest["sources"].items()
               if (source["schema"].lower(), source["identifier"].lower()) in wanted]
    affected: set[str] = set()
    while pending:
        uid = pending.pop()
        if uid not in affected:
            affected.add(uid)
            pending.extend(manifest["child_map"].get(uid, []))
    nodes = {**manifest["nodes"], **manifest.get("unit_tests", {})}
    return {uid: node["name"] for uid, node in nodes.items()
            if (uid not in affected or node["resource_type"] == "unit_test")
            and node["resource_type"] in KEEPABLE}



def recorded_check(key: AssetKey, check_name: str, run_id: str, since: str,
                   prints: Mapping[str, str] | None = None) -> AssetCheckResult | None:
    """The recorded result of a check on exactly the table's current content (the publish
    gate's record), made ``since`` the code and checks are the ones of this run: the same
    content, code and checks as when it was checked. None when there is no such record (the
    check must run, or publication refuses). ``prints``: the tables' fingerprints, when
    already taken."""
    table = key.path[-1]
    found = (prints if prints is not None else gate.fingerprints([table])).get(table)
    record = gate.records_for(table, found).get(check_name) if found else None
    if record is None or (datetime.fromisoformat(record.checked_at)
                          < datetime.fromisoformat(since)):
        return None
    return AssetCheckResult(
        asset_key=key, check_name=check_name, passed=record.passed,
        severity=AssetCheckSeverity(record.severity),
        description=(f"unchanged content, result of run {record.run_id[:8]} kept: "
                     f"{record.description}")[:1000],
        metadata={KEPT_FROM: MetadataValue.text(record.run_id),
                  "checked_at": MetadataValue.text(record.checked_at),
                  "this_run": MetadataValue.text(run_id)},
    )


def last_evaluation(instance: DagsterInstance, check: AssetCheckKey,
                    run_id: str) -> AssetCheckResult | None:
    """The check's last result before this run, for a view this run kept (a view has no
    content fingerprint): nothing it reads changed since, or it would not have been kept."""
    history = instance.event_log_storage.get_asset_check_execution_history(check, limit=5)
    for execution in history:  # newest first; this run's is only planned
        dagster_event = execution.event.dagster_event if execution.event else None
        if (execution.run_id == run_id or dagster_event is None
                or dagster_event.event_type_value != "ASSET_CHECK_EVALUATION"):
            continue
        found = dagster_event.asset_check_evaluation_data
        kept_already = KEPT_FROM in found.metadata  # then it names the run that checked
        return AssetCheckResult(
            asset_key=check.asset_key, check_name=check.name, passed=found.passed,
            severity=found.severity,
            description=found.description if kept_already else (
                f"unchanged inputs, result of run {execution.run_id[:8]} kept: "
                f"{found.description or ''}")[:1000],
            metadata={KEPT_FROM: found.metadata[KEPT_FROM] if kept_already
                      else MetadataValue.text(execution.run_id)},
        )
    return None


def same_inputs_since(instance: DagsterInstance, key: AssetKey, run_id: str) -> str | None:
    """When the model ``key``, as this run materialised it after new loads (kept or built
    again), began to be built by this run's code and checks; None when this run did not, or
    built everything anew (its checks run)."""
    event = instance.get_latest_materialization_event(key)
    if (event is None or event.run_id != run_id or event.asset_materialization is None
            or SAME_INPUTS_SINCE not in event.asset_materialization.metadata):
        return None
    return str(event.asset_materialization.metadata[SAME_INPUTS_SINCE].value)


def _in_dependency_order(nodes: Iterable[str], manifest: Mapping[str, Any]) -> list[str]:
    """The nodes (unique ids), each after those of them it depends on."""
    wanted = set(nodes)
    graph = {uid: [p for p in manifest["parent_map"].get(uid, []) if p in wanted]
             for uid in sorted(wanted)}
    return list(graphlib.TopologicalSorter(graph).static_order())


def _kept_events(context: AssetExecutionContext, manifest: Mapping[str, Any],
                 kept: Mapping[str, str], record: changes.BuildRecord,
                 events: list[Any]) -> list[Any]:
    """An output for each selected model the build kept (what follows runs on it: its checks
    reuse their results, the publication copies it) and the recorded result of each of its
    dbt tests that did not run."""
    # Before dbt's own: nothing a kept model reads was rebuilt, and Dagster wants a multi-asset's
    # outputs in the order of their dependencies.
    keys = [AssetKey([kept[uid]]) for uid in _in_dependency_order(kept, manifest)]
    keys = [key for key in keys if key in context.selected_asset_keys]
    out: list[Any] = [
        Output(None, output_name=context.assets_def.get_output_name_for_asset_key(key),
               metadata={KEPT_SINCE: MetadataValue.text(record.built_at)})
        for key in keys]
    evaluated = {(e.asset_key, e.check_name) for e in events if isinstance(e, AssetCheckResult)}
    prints = gate.fingerprints(key.path[-1] for key in keys)  # one pass over each kept table
    for check in context.selected_asset_check_keys:
        if check.asset_key in keys and (check.asset_key, check.name) not in evaluated:
            result = (recorded_check(check.asset_key, check.name, context.run_id,
                                     record.same_inputs_since, prints)
                      or last_evaluation(context.instance, check, context.run_id))
            if result is not None:
                out.append(result)
    return out


@dbt_assets(
    manifest=DBT_PROJECT.manifest_path,
    project=DBT_PROJECT,
    dagster_dbt_translator=DatenwerkDbtTranslator(),
    pool=WAREHOUSE_POOL,
    retry_policy=RETRY_POLICY,
)
def transform_assets(
    context: AssetExecutionContext, dbt: DbtCliResource, config: TransformConfig
) -> Iterator[Any]:
    """Build staging, intermediate and mart models with `dbt build` (models and their tests).

    Nothing is built when nothing changed (:func:`build_plan`): the step notes "checked,
    unchanged" in the publication's manifest and materialises nothing, so Dagster skips what
    follows (the mart checks, the publication, the exports and reports). A full refresh when
    one was asked for in the run config, or a held load was released, or the key rotated:
    incremental models read only loads newer than their last build.
    """
    os.environ.update(dbt_environment())
    if config.full_refresh:
        changes.request_full_refresh(datetime.now(UTC))
    with classified_faults(context.retry_number):  # a locked build.duckdb is retried, named
        plan = build_plan(config.full_refresh, outputs_behind_publication(context.instance))
    # A selection of some models (materialised from the UI) is a request to build them.
    everything = set(context.selected_asset_keys) >= set(transform_assets.keys)
    if everything and not plan.reasons:
        noted = record_unchanged(context.run_id)
        checked_at = (noted or {}).get("checked_unchanged_at", "")
        context.log.info("Nothing changed since the last publication: checked, unchanged; "
                         "nothing is rebuilt, checked again or published.")
        context.log_event(AssetObservation(asset_key=PUBLISHED, metadata={
            "checked_unchanged_at": MetadataValue.text(checked_at),
            "generation": MetadataValue.text(str((noted or {}).get("generation", ""))),
        }))
        return
    context.log.info("Building: " + "; ".join(plan.reasons or ["these models were selected"]))
    engine = ENGINE_BUILDS[settings.engine()]
    full_refresh = bool(plan.full_refresh) or not engine.keeps_nodes
    # One target folder per home, kept between runs: dbt re-parses only what changed. Runs of
    # one home write the warehouse one at a time (the warehouse_writer pool); the lock also
    # keeps a second process (a dbt run by hand through Datenwerk, a second Dagster instance)
    # from writing the same artefacts at once.
    target = engine.target_dir()
    # Events are held until dbt has finished: then one short read-only connection counts the rows
    # of each table it built (dagster-dbt's fetch_row_counts() keeps connections open while dbt
    # still writes, and dbt-duckdb reports no rows in its adapter response).
    events: list[Any] = []
    fingerprint, started_at = inputs_fingerprint(), datetime.now(UTC)
    record = changes.last_build()
    kept: dict[str, str] = {}
    manifest: dict[str, Any] = {}
    if engine.keeps_nodes and everything and plan.loaded is not None and record is not None:
        manifest = json.loads(DBT_PROJECT.manifest_path.read_text())
        kept = kept_nodes(manifest, plan.loaded)
        context.log.info(f"New loads in {', '.join(sorted('.'.join(t) for t in plan.loaded))}: "
                         f"building what depends on them; {len(kept)} dbt nodes kept as built "
                         f"at {record.built_at}.")
    # Tests are selected by name like the models (no indirect selection): a test of a kept
    # model that refers to a rebuilt one still runs. One space-separated value, as dagster-dbt
    # passes a runtime --exclude on to dbt.
    excluded = " ".join(sorted(set(kept.values())))
    selection = ["--indirect-selection", "empty", "--exclude", excluded] if kept else []
    try:
        with classified_faults(context.retry_number), exclusive(target.parent / "target.lock"):
            engine.prepare(dbt, target)
            invocation = dbt.cli(["build", *(["--full-refresh"] if full_refresh else []),
                                  *selection, *engine.args], context=context, target_path=target)
            try:
                with ended(invocation):
                    events.extend(invocation.stream())
            finally:
                engine.finish(target)  # once dbt has ended, whatever its outcome
            if kept and record is not None and invocation.is_successful():
                events[:0] = _kept_events(context, manifest, kept, record, events)
                events[:] = _same_inputs(events, record.same_inputs_since)
        # Only a build of every model is a build of the installation (a partial one may miss
        # contacts): only it is recorded, and only it answers a request for a full refresh.
        if everything and invocation.is_successful():
            changes.record_build(fingerprint, full_refresh, started_at, project_fingerprint())
    finally:
        record_dbt_tests(context, events)
        keys = {key.to_python_identifier(): key for key in context.assets_def.keys}
        yield from with_row_counts(events, keys)



def _same_inputs(events: list[Any], since: str) -> list[Any]:
    """Each model's output of a build after new loads says since when its inputs other than
    the data are unchanged (:data:`SAME_INPUTS_SINCE`): a check of a model whose content the
    loads did not change after all reports the result recorded on that content."""
    marked = {SAME_INPUTS_SINCE: MetadataValue.text(since)}
    return [event.with_metadata({**event.metadata, **marked}) if isinstance(event, Output)
            else event for event in events]


def record_dbt_tests(context: AssetExecutionContext, events: list[Any]) -> None:
    """Record dbt's test results against the content dbt tested (dbt has finished: nothing
    writes between its tests and this read). Without a record the gate refuses (fail closed)."""
    results = [
        (e.asset_key.path[-1], e.check_name, e.passed, e.severity.value, e.description or "")
        for e in events
        if isinstance(e, AssetCheckResult) and e.asset_key is not None and e.check_name
        and len(e.asset_key.path) == 1 and KEPT_FROM not in e.metadata
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
                {
                    **event.metadata,
                    "dagster/row_count": MetadataValue.int(counts[event.output_name]),
                }
            )
        yield event
