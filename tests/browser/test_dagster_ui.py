"""The Dagster UI in a real browser (Debian's Chromium, driven by Playwright): the asset graph
shows the groups and the marts, and nightly_refresh launched from the UI runs to success.

Screenshots of each step are kept in the test's tmp folder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Webserver, last_publication

pytestmark = pytest.mark.browser

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


def test_asset_graph_and_nightly_refresh_from_the_ui(
    webserver: Webserver, page, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    from playwright.sync_api import expect

    # The asset catalogue: every group and a known mart.
    page.goto(f"{webserver.url}/assets")
    expect(page.get_by_text("fct_cases").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "1-assets.png"), full_page=True)

    # The global asset graph, by group.
    page.goto(f"{webserver.url}/asset-groups")
    for group in ("ingestion", "transform", "publish"):
        expect(page.get_by_text(group, exact=True).first).to_be_visible()
    page.screenshot(path=str(tmp_path / "2-asset-graph.png"))

    # Jobs -> nightly_refresh -> Materialize all.
    page.goto(f"{webserver.url}/jobs")
    page.get_by_role("link", name="nightly_refresh").first.click()
    expect(page.get_by_text("fct_cases").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "3-job.png"))
    page.get_by_role("button", name=re.compile("Materialize all")).first.click()
    # The launched run: follow the toast's link, or open the newest run of the job.
    page.goto(f"{webserver.url}/runs")
    page.locator("a[href*='/runs/']").filter(has_text=re.compile(r"^[0-9a-f]{8}$")).first.click()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
    page.screenshot(path=str(tmp_path / "4-run-success.png"))
    run_id = page.url.rstrip("/").split("/runs/")[-1].split("?")[0]

    publication = last_publication(webserver.home)
    assert publication is not None and publication[1] == run_id
