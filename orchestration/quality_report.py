"""The quality record of each publication: which Great Expectations suites ran in the run, which
failed, and where their Data Docs are.

The suites themselves run as asset checks on the dlt tables and the marts (orchestration/checks.py)
and each writes its own Data Docs page as it runs, so the docs are current even when a blocking
check stops the run. This asset summarises a run that got as far as a publication.
"""

import json

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from warehouse import paths

from .stewards import stewards


def suites_of_run(run_id: str) -> dict[str, dict]:
    """Each suite's latest result recorded in this run, from the Data Docs' ``runs.json``."""
    log_file = paths.data_docs_dir() / "runs.json"
    if not log_file.exists():
        return {}
    runs = json.loads(log_file.read_text(encoding="utf-8"))
    return {
        suite: next(e for e in entries if e["run"] == run_id)
        for suite, entries in runs.items()
        if any(e["run"] == run_id for e in entries)
    }


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
    suites = suites_of_run(context.run.run_id)
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
