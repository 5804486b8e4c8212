"""Impact reports after each publication: one per department and one for the organisation."""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from warehouse import paths
from warehouse.reports import write_reports


@asset(
    key=AssetKey(["impact_reports"]),
    deps=[AssetKey(["published_marts"])],
    group_name="publish",
    kinds={"html", "pdf"},
    owners=["team:data-engineering"],
    description=(
        "German impact reports (Wirkungsberichte, SRS structure: resources, outputs, outcomes "
        "along the Wirkungstreppe, cost per outcome) per department and for the whole "
        "organisation, from the published generation: "
        "`reports/<org>/<department>/<date>/wirkungsbericht.html` and `.pdf`, "
        "`reports/<org>/<department>/latest` points to the newest. Small counts are "
        "suppressed as in the open data."
    ),
)
def impact_reports(context: AssetExecutionContext) -> MaterializeResult:
    results = write_reports(on_failure=context.log.error)
    without_pdf = [str(r.html) for r in results if r.pdf is None]
    if without_pdf:
        context.log.warning(f"{len(without_pdf)} report(s) without PDF (no Chromium?)")
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(paths.impact_reports_dir())),
        "reports": MetadataValue.int(len(results)),
        # A report is this asset's row: one per department and organisation.
        "dagster/row_count": MetadataValue.int(len(results)),
        "pdfs": MetadataValue.int(sum(r.pdf is not None for r in results)),
        "year": MetadataValue.int(max((r.year for r in results), default=0)),
        "files": MetadataValue.json(
            [str(r.html.relative_to(paths.home())) for r in results]),
    })
