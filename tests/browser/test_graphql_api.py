"""Launch nightly_refresh through Dagster's GraphQL API against the running webserver (as a
script or another tool would) and check that the published generation advanced.

Nothing new is delivered after the UI test's run, so the run asks for a full refresh in its run
config (as the launchpad can): without it, the run would find nothing changed and stop."""

from __future__ import annotations

import time

import pytest

from orchestration.cli import FULL_REFRESH_CONFIG
from tests.browser.conftest import Webserver, last_publication

pytestmark = pytest.mark.browser


def test_nightly_refresh_through_graphql_advances_the_publication(webserver: Webserver) -> None:
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient

    before = last_publication(webserver.home)
    client = DagsterGraphQLClient("127.0.0.1", port_number=webserver.port, timeout=60)
    run_id = client.submit_job_execution(
        "nightly_refresh",
        repository_location_name="datenwerk",
        repository_name="__repository__",
        tags={"datenwerk/trigger": "graphql-test"},
        run_config=FULL_REFRESH_CONFIG,
    )
    deadline = time.monotonic() + 900
    status = client.get_run_status(run_id)
    while status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE,
                         DagsterRunStatus.CANCELED) and time.monotonic() < deadline:
        time.sleep(3)
        status = client.get_run_status(run_id)
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id}: {status}; log {webserver.log}"

    after = last_publication(webserver.home)
    assert after is not None
    published_at, published_by = after
    assert published_by == run_id
    if before is not None:
        assert published_at > before[0] and before[1] != run_id
