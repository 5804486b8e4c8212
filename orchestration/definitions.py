"""The one Dagster code location of Datenwerk: every dlt table, dbt model, check and published
artefact is an asset in one connected graph.

Warehouse writers run one at a time: the job uses the in-process executor (one step after the
other) and Dagster's run queue admits one run at a time (``dagster.yaml`` in DAGSTER_HOME).
"""

from __future__ import annotations

from warehouse import settings

# Dagster and dlt read their settings from the environment at import time, so the process
# environment is set before they are imported.
settings.apply_process_environment()

from dagster import (  # noqa: E402
    AssetSelection,
    Definitions,
    ScheduleDefinition,
    apply_freshness_policy,
    define_asset_job,
    in_process_executor,
    map_asset_specs,
)
from dagster_dlt import DagsterDltResource  # noqa: E402

from .alerts import dead_run_monitor, failure_alert  # noqa: E402
from .checks import CHECKS  # noqa: E402
from .exports import department_exports  # noqa: E402
from .freshness import (  # noqa: E402
    FRESHNESS_CHECKS,
    PUBLICATION,
    freshness_job,
    freshness_schedule,
    publication_policy,
)
from .ingestion import ASSETS as INGESTION_ASSETS  # noqa: E402
from .open_data import open_data  # noqa: E402
from .publish import published_marts  # noqa: E402
from .quality_report import data_quality_report  # noqa: E402
from .reports import impact_reports  # noqa: E402
from .sensors import inbox_sensor  # noqa: E402
from .transform import dbt_resource, transform_assets  # noqa: E402

nightly_refresh = define_asset_job(
    name="nightly_refresh",
    selection=AssetSelection.all(),
    description="Load new exports, rebuild the marts, check them, publish when all checks pass.",
    executor_def=in_process_executor,
)

nightly_schedule = ScheduleDefinition(
    name="nightly_refresh_0200_berlin",
    job=nightly_refresh,
    cron_schedule="0 2 * * *",
    execution_timezone="Europe/Berlin",
    description="Every night at 02:00 Berlin time (daylight-saving changes included).",
)

# Dagster's own freshness policy shows the 36 h window on the asset in the UI (the daemon
# evaluates it); the publication_freshness check reads the published file itself.
[published_marts] = map_asset_specs(
    lambda spec: apply_freshness_policy(spec, publication_policy())
    if spec.key == PUBLICATION else spec,
    [published_marts],
)

defs = Definitions(
    assets=[
        *INGESTION_ASSETS,
        transform_assets,
        published_marts,
        department_exports,
        impact_reports,
        open_data,
        data_quality_report,
    ],
    asset_checks=[*CHECKS, *FRESHNESS_CHECKS],
    jobs=[nightly_refresh, freshness_job],
    schedules=[nightly_schedule, freshness_schedule],
    sensors=[inbox_sensor, failure_alert, dead_run_monitor],
    resources={"dlt": DagsterDltResource(), "dbt": dbt_resource()},
)
