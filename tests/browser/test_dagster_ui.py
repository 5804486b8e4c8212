"""The Dagster UI in a real browser (Debian's Chromium, driven by Playwright): the asset graph
shows the groups and the marts, and nightly_refresh launched from the UI, after a later delivery
arrived, runs to success and publishes it.

Screenshots of each step are kept in the test's tmp folder.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Webserver, last_publication

# A night launched from the UI in a real browser, after the GraphQL night: make test-long.
pytestmark = [pytest.mark.browser, pytest.mark.long]

RUN_TIMEOUT_MS = 900_000  # the whole pipeline in a subprocess, on a shared 2-core machine


@pytest.fixture
def page(tmp_path: Path):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(60_000)
        try:
            yield page
        finally:
            page.screenshot(path=str(tmp_path / "last.png"), full_page=True)
            context.close()
            browser.close()


def run_ids(webserver: Webserver) -> list[str]:
    """Run ids in the webserver's Dagster storage, newest first."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(webserver.home / "dagster")) as instance:
        return [r.run_id for r in instance.get_runs(limit=20)]


def finished_status(webserver: Webserver, run_id: str, timeout: float) -> str:
    """The run's status once it has finished (or whatever it is when ``timeout`` runs out)."""
    from dagster import DagsterInstance, DagsterRunStatus

    done = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    with DagsterInstance.from_config(str(webserver.home / "dagster")) as instance:
        while True:
            run = instance.get_run_by_id(run_id)
            if (run is not None and run.status in done) or time.monotonic() > deadline:
                return run.status.value if run is not None else "missing"
            time.sleep(2)


def test_asset_graph_and_nightly_refresh_from_the_ui(
    webserver: Webserver, page, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=120_000)  # the first page of a fresh UI loads slowly
    # Dagster shows a one-time "Join the community" dialog: dismiss it whenever it appears.
    page.add_locator_handler(
        page.get_by_text("Join the Dagster community"),
        lambda: page.get_by_role("button", name="Skip").click(),
    )

    # The global asset graph: the three groups.
    page.goto(f"{webserver.url}/asset-groups")
    for group in ("ingestion", "transform", "quality", "publish"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "1-asset-graph.png"))

    # The transform group's graph (with some 60 models it shows a part and abbreviates labels) ...
    page.goto(f"{webserver.url}/locations/datenwerk/asset-groups/transform")
    expect(page.get_by_text("fct_cases", exact=True).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "2-transform-group.png"))
    # ... and the marts' own pages, with their group.
    for mart in ("fct_cases", "mart_impact"):
        page.goto(f"{webserver.url}/assets/{mart}")
        expect(page.get_by_text(mart, exact=True).first).to_be_visible()
        expect(page.get_by_text("transform", exact=True).first).to_be_visible()
        page.screenshot(path=str(tmp_path / f"2b-{mart}.png"))

    # Jobs -> nightly_refresh -> Materialize all.
    page.goto(f"{webserver.url}/jobs")
    page.get_by_role("link", name="nightly_refresh").first.click()
    expect(page.get_by_text("Load new exports, rebuild the marts").first).to_be_visible()
    # The GraphQL night has already published this home; a later delivery gives the UI's run
    # something to publish (with nothing new it would only record "checked, unchanged").
    from ingestion.demo.generator import increment

    increment(webserver.home / "inbox", webserver.home / "demo_truth", share=0.01)
    before = set(run_ids(webserver))
    page.get_by_role("button", name="Materialize all").click()
    page.screenshot(path=str(tmp_path / "3-launched.png"))
    deadline = time.monotonic() + 180
    launched: list[str] = []
    while not launched and time.monotonic() < deadline:
        launched = [r for r in run_ids(webserver) if r not in before]
        time.sleep(1)
    assert len(launched) == 1, "Materialize all did not launch exactly one run"
    run_id = launched[0]

    # The run page shows the run at its end: success. The run is awaited in Dagster's storage
    # rather than on a live run page (Chromium rendering thousands of live log events competes
    # with the run for the machine's two cores); then the page must show it as a success.
    status = finished_status(webserver, run_id, timeout=RUN_TIMEOUT_MS / 1000)
    assert status == "SUCCESS", f"run {run_id}: {status}; log {webserver.log}"
    page.goto(f"{webserver.url}/runs/{run_id}")
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "4-run-success.png"))

    publication = last_publication(webserver.home)
    assert publication is not None and publication[1] == run_id
