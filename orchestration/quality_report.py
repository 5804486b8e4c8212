"""The quality record of each publication: which Great Expectations suites ran in the run, which
failed, and where their Data Docs are.

The suites themselves run as asset checks on the dlt tables and the marts (orchestration/checks.py)
and each writes its own Data Docs page as it runs, so the docs are current even when a blocking
check stops the run. This asset summarises a run that got as far as a publication.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from quality.gx import results_of_run
from warehouse import paths

from .stewards import stewards


@asset(
    key=AssetKey(["data_quality_report"]),
    deps=[AssetKey(["published_marts"])],
    group_name="quality",
    kinds={"great_expectations"},
    owners=stewards().owners_for(["data_quality_report", "quality"]),
    description=(
        "Great Expectations results of the run that published: every suite on the incoming "
        "batches and the marts, passed or failed, with a link to the Data Docs "
        "(DATENWERK_HOME/quality/data_docs/index.html)."
    ),
)
def data_quality_report(context: AssetExecutionContext) -> MaterializeResult:
    suites = results_of_run(context.run.run_id)
    failed = sorted(s for s, e in suites.items() if not e["success"])
    return MaterializeResult(
        metadata={
            "data_docs": MetadataValue.path(str(paths.data_docs_dir() / "index.html")),
            "suites_run": MetadataValue.int(len(suites)),
            "suites_failed": MetadataValue.int(len(failed)),
            "failed": MetadataValue.json(
                {s: suites[s]["failed"] for s in failed}
            ),
            "rows_validated": MetadataValue.int(sum(e.get("rows") or 0 for e in suites.values())),
            "dagster/row_count": MetadataValue.int(len(suites)),
        }
    )
