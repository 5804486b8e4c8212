"""Dagster assets for the dlt sources: one multi-asset per source, one asset per dlt table.

Asset keys are ``[<dataset>, <table>]`` (e.g. ``raw_case_management/cases``), exactly the keys
dagster-dbt gives the dbt sources of the same tables, so each dlt table feeds its staging model.
"""


from collections.abc import Callable, Iterator
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.extract.source import DltSource
from dlt.pipeline.pipeline import Pipeline

from ingestion import accounting, case_management, reference
from ingestion.delivery import loaded_hashes, present_tables
from ingestion.erasure import refuse_while_pending
from ingestion.pipelines import pipeline
from ingestion.pseudonymise import check_key_matches_warehouse

from .deliveries import Problem, notify, problem_metadata, problems
from .faults import RETRY_POLICY, classified_faults
from .stewards import stewards

WAREHOUSE_POOL = "warehouse_writer"  # DuckDB allows one writing process per file


class DatenwerkDltTranslator(DagsterDltTranslator):
    """Keys ``[dataset, table]``, group ``ingestion``, owners from the stewards file (by
    ``dataset/table``, then by dataset). dagster-dlt's own spec already carries the resource
    function's docstring as description."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.pipeline.dataset_name if data.pipeline else "raw"
        return spec.replace_attributes(
            key=AssetKey([dataset, data.resource.name]),
            deps=[],
            group_name="ingestion",
            description=(spec.description or "").strip(),
            kinds={"dlt", "duckdb"},
            owners=stewards().owners_for([f"{dataset}/{data.resource.name}", dataset]),
        )


TRANSLATOR = DatenwerkDltTranslator()


def table_row_counts(dlt_pipeline: Pipeline, tables: list[str]) -> dict[str, int]:
    """Rows now in each raw table (dlt reports only the rows of this load), through dlt's own
    connection: a second connection to the file from this process would conflict with it."""
    counts: dict[str, int] = {}
    with dlt_pipeline.sql_client() as client:
        for table in tables:
            try:
                rows = client.execute_sql(
                    f"select count(*) from {client.make_qualified_table_name(table)}"
                )
            except Exception:  # noqa: BLE001, S112 - a table this load did not create has no count
                continue
            counts[table] = int(rows[0][0]) if rows else 0
    return counts


def new_delivery_problems(dlt_pipeline: Pipeline, dataset: str, known: frozenset[str],
                          warn: Callable[[str], None]) -> list[Problem]:
    """Files of this load that were rejected or had rows set aside: a WARNING event each, and
    an e-mail to their steward."""
    with dlt_pipeline.sql_client() as client:
        found = problems(client, dataset, known)
    notify(found, warn)
    return found


def load_assets(
    name: str, dataset: str, make_source: Callable[..., DltSource], description: str
) -> AssetsDefinition:
    """One dagster-dlt multi-asset for a source: one asset per dlt table."""

    def _load(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        with classified_faults(context.retry_number):
            # Fail fast, before dlt starts, on a missing key or another key than the warehouse's
            # (terminal configuration errors).
            check_key_matches_warehouse()
            refuse_while_pending()  # an erasure stopped on its way: its client is not gone
            # Built at run time from the current DATENWERK_HOME; files already loaded are skipped.
            known = frozenset(loaded_hashes(dataset))
            source = make_source(skip_hashes=known, present=present_tables(dataset))
            dlt_pipeline = pipeline(dataset)
            results = {
                result.asset_key.path[-1]: result
                for result in dlt.run(context=context, dlt_source=source, dlt_pipeline=dlt_pipeline)
                if result.asset_key is not None
            }
            counts = table_row_counts(dlt_pipeline, list(results))
            found = new_delivery_problems(dlt_pipeline, dataset, known, context.log.warning)
            for table, result in results.items():
                extra: dict[str, MetadataValue] = (
                    {"dagster/row_count": MetadataValue.int(counts[table])}
                    if table in counts
                    else {}
                )
                if table == "file_registry":
                    extra.update(problem_metadata(found))
                yield MaterializeResult(
                    asset_key=result.asset_key, metadata={**(result.metadata or {}), **extra}
                )

    _load.__doc__ = description
    # dlt_assets() is multi_asset(specs=build_dlt_asset_specs(...)); spelled out for the retry
    # policy, which dlt_assets() does not pass on.
    return multi_asset(
        specs=build_dlt_asset_specs(make_source(), pipeline(dataset), TRANSLATOR),
        name=name,
        can_subset=True,
        pool=WAREHOUSE_POOL,
        retry_policy=RETRY_POLICY,
    )(_load)


ASSETS = [
    load_assets("load_case_management", case_management.DATASET, case_management.case_management,
                "Load new case-management exports (pseudonymised, quarantined, registered)."),
    load_assets("load_accounting", accounting.DATASET, accounting.accounting,
                "Load new DATEV Buchungsstapel files and account labels."),
    load_assets("load_reference", reference.DATASET, reference.reference,
                "Load new reference data (departments, programs, cost centres, account ranges)."),
]
