"""The open-data step: build a candidate folder, prove it safe (blocking check), then swap it in."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
)

from warehouse import open_data as od
from warehouse import paths, settings
from warehouse.checks import CheckResult
from warehouse.publish import current_generation_file

from .checks import evaluate
from .ingestion import WAREHOUSE_POOL

OPEN_DATA = AssetKey(["open_data"])
NO_DISCLOSURE = "no_disclosure"


def _verified(candidate: Path) -> CheckResult:
    """Build the open data into ``candidate`` and prove it discloses nothing."""
    # The kept generation file: marts.duckdb is the analysts' copy, perhaps held read-write
    # (locked) or altered by one of them.
    published = current_generation_file()
    if published is None:
        raise FileNotFoundError(f"nothing is published yet ({paths.published_manifest()} is "
                                "missing): open data is made from a publication")
    od.build(candidate, published, paths.build_db())
    report = od.verify_folder(candidate)
    problems = report.problems
    metadata: dict[str, Any] = {
        "threshold": settings.SUPPRESSION_THRESHOLD,
        "protection_margin": settings.PROTECTION_MARGIN,
        "suppressed_cells": report.hidden_cells,
        "published_cells": report.published_cells,
    }
    if report.narrowest != float("inf"):
        metadata["narrowest_interval"] = float(report.narrowest)
    return CheckResult(
        passed=not problems,
        description=(f"{len(problems)} problem(s), first: {problems[0]}" if problems else
                     f"no disclosure in {report.published_cells} published cells"),
        metadata=metadata,
        tables={"problems": [{"problem": p} for p in problems[:50]]},
    )


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
        check = evaluate(context.log, NO_DISCLOSURE, True, lambda: _verified(candidate),
                         asset_key=OPEN_DATA, check_name=NO_DISCLOSURE)
        yield check
        if not check.passed:
            raise od.OpenDataBlocked(
                f"open data not published ({check.description}); "
                f"the previous publication stays at {paths.open_data_dir()}."
            )
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
