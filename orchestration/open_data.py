"""The open-data step: build a candidate folder, prove it safe (blocking check), then swap it in."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from warehouse import open_data as od
from warehouse import paths, settings

from .ingestion import WAREHOUSE_POOL

OPEN_DATA = AssetKey(["open_data"])
NO_DISCLOSURE = "no_disclosure"


@asset(
    key=OPEN_DATA,
    deps=[AssetKey(["published_marts"]), AssetKey(["stg_reference__locations"])],
    group_name="publish",
    kinds={"csv", "json"},
    owners=["team:data-engineering"],
    pool=WAREHOUSE_POOL,
    check_specs=[
        AssetCheckSpec(
            NO_DISCLOSURE,
            asset=OPEN_DATA,
            blocking=True,
            description=(
                "No published count is below the suppression threshold and no '.' can be "
                "recovered from the totals (feasible range at least the protection margin); "
                "HSDS field names and DCAT-AP.de properties present. Verified on the candidate "
                "folder before it is swapped in."
            ),
        )
    ],
    description=(
        "Public open data (open_data/): the counselling-centre directory as Open Referral HSDS "
        "tables and yearly case counts with small-cell suppression, described in DCAT-AP.de "
        "JSON-LD. Written to a new folder, verified, then swapped in atomically."
    ),
)
def open_data(context: AssetExecutionContext) -> Iterator[AssetCheckResult | MaterializeResult]:
    candidate = od.new_candidate()
    try:
        try:
            od.build(candidate, paths.published_db(), paths.build_db())
            report = od.verify_folder(candidate)
            problems, crashed = report.problems, None
        except Exception as exc:  # noqa: BLE001 - a crash in the check fails it (fail closed)
            report, problems, crashed = None, [f"verification crashed: {exc!r}"], exc
        metadata: dict[str, MetadataValue] = {
            "threshold": MetadataValue.int(settings.SUPPRESSION_THRESHOLD),
            "protection_margin": MetadataValue.int(settings.PROTECTION_MARGIN),
            "problems": MetadataValue.md(
                "\n".join(f"- {p}" for p in problems[:50]) or "none"),
        }
        if report is not None:
            metadata["suppressed_cells"] = MetadataValue.int(report.hidden_cells)
            metadata["published_cells"] = MetadataValue.int(report.published_cells)
            if report.narrowest != float("inf"):
                metadata["narrowest_interval"] = MetadataValue.float(float(report.narrowest))
        yield AssetCheckResult(
            asset_key=OPEN_DATA,
            check_name=NO_DISCLOSURE,
            passed=not problems,
            severity=AssetCheckSeverity.ERROR,
            metadata=metadata,
        )
        if problems:
            raise od.OpenDataBlocked(
                f"open data not published ({len(problems)} problem(s), first: {problems[0]}); "
                f"the previous publication stays at {paths.open_data_dir()}."
            ) from crashed
        files = od.data_rows(candidate)
        final = od.swap_in(candidate)
    finally:
        od.discard(candidate)
    context.log.info(f"open data generation {final.name} published")
    yield MaterializeResult(
        asset_key=OPEN_DATA,
        metadata={
            "path": MetadataValue.path(str(paths.open_data_dir())),
            "generation": MetadataValue.text(final.name),
            "dagster/row_count": MetadataValue.int(sum(files.values())),
            **{f"rows_{name.removesuffix('.csv')}": MetadataValue.int(n)
               for name, n in files.items()},
        },
    )
