"""Dagster assets for the dlt sources: one multi-asset per source, one asset per dlt table.

Asset keys are ``[<dataset>, <table>]`` (e.g. ``raw_case_management/cases``), exactly the keys
dagster-dbt gives the dbt sources of the same tables, so each dlt table feeds its staging model.
"""


from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetSpec
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion import accounting, case_management, reference
from ingestion.delivery import loaded_hashes
from ingestion.pipelines import pipeline
from ingestion.pseudonymise import current_key

WAREHOUSE_POOL = "warehouse_writer"  # DuckDB allows one writing process per file


class DatenwerkDltTranslator(DagsterDltTranslator):
    """Keys ``[dataset, table]``, group ``ingestion``, the resource docstring as description."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        dataset = data.pipeline.dataset_name if data.pipeline else "raw"
        doc = (data.resource._pipe.gen.__doc__ if callable(data.resource._pipe.gen) else None)
        return spec.replace_attributes(
            key=AssetKey([dataset, data.resource.name]),
            deps=[],
            group_name="ingestion",
            description=(doc or spec.description or "").strip(),
            kinds={"dlt", "duckdb"},
            owners=["team:data-engineering"],
        )


TRANSLATOR = DatenwerkDltTranslator()


def _run(
    context: AssetExecutionContext, dlt: DagsterDltResource, source_module: Any
) -> Iterator[Any]:
    dataset = source_module.DATASET
    source_fn = {
        case_management.DATASET: case_management.case_management,
        accounting.DATASET: accounting.accounting,
        reference.DATASET: reference.reference,
    }[dataset]
    # Fail fast, before dlt starts, on a missing key (terminal configuration error).
    current_key()
    # Built at run time from the current DATENWERK_HOME; files already loaded are skipped.
    source = source_fn(skip_hashes=frozenset(loaded_hashes(dataset)))
    yield from dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline(dataset))


@dlt_assets(
    dlt_source=case_management.case_management(),
    dlt_pipeline=pipeline(case_management.DATASET),
    name="load_case_management",
    dagster_dlt_translator=TRANSLATOR,
    pool=WAREHOUSE_POOL,
)
def case_management_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load new case-management exports (pseudonymised, quarantined, registered)."""
    yield from _run(context, dlt, case_management)


@dlt_assets(
    dlt_source=accounting.accounting(),
    dlt_pipeline=pipeline(accounting.DATASET),
    name="load_accounting",
    dagster_dlt_translator=TRANSLATOR,
    pool=WAREHOUSE_POOL,
)
def accounting_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load new DATEV Buchungsstapel files."""
    yield from _run(context, dlt, accounting)


@dlt_assets(
    dlt_source=reference.reference(),
    dlt_pipeline=pipeline(reference.DATASET),
    name="load_reference",
    dagster_dlt_translator=TRANSLATOR,
    pool=WAREHOUSE_POOL,
)
def reference_assets(context: AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
    """Load new reference data (departments, programs, cost centres, account categories)."""
    yield from _run(context, dlt, reference)


ASSETS = [case_management_assets, accounting_assets, reference_assets]
