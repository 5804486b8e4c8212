"""Launch nightly_refresh through Dagster's GraphQL API against the running webserver (as a
script or another tool would) and check that the published generation advanced.

The home is already published and nothing new is delivered, so the run asks for a full
refresh in its run config (as the launchpad can): without it, the run would find nothing
changed and stop."""

from __future__ import annotations

import pytest

from tests.browser.conftest import GraphqlNight, Webserver

# The browser tests' server and its GraphQL night, shared with the UI's night: make test-long.
pytestmark = [pytest.mark.browser, pytest.mark.long]


def test_nightly_refresh_through_graphql_advances_the_publication(
    webserver: Webserver, graphql_night: GraphqlNight
) -> None:
    from dagster import DagsterRunStatus

    # Launched when the server came up, while other tests ran (tests/browser/conftest.py).
    before, run_id, status = graphql_night.before, graphql_night.run_id, graphql_night.status
    assert status == DagsterRunStatus.SUCCESS, f"run {run_id}: {status}; log {webserver.log}"

    after = graphql_night.after
    assert after is not None
    published_at, published_by = after
    assert published_by == run_id
    if before is not None:
        assert published_at > before[0] and before[1] != run_id
