"""The UI of `make dev` is safe to open in a browser: a page on another origin, a DNS-rebinding
name and a mutation sent by GET cannot drive it; its own page and plain clients still can.

A real server (``python -m orchestration.webserver``, as ``make dev`` starts it), real HTTP
requests, and a real Chromium page served from another loopback origin that tries to turn on the
inbox sensor. The sensor's state is the witness: still stopped after the attacks, running after
the same mutation from a legitimate client.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from orchestration.runs import children
from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LAUNCHERS,
    Launched,
    claim_ui,
    launch_ui,
    stop_ui,
    wait_for_code_location,
)
from tests.conftest import _SESSION_ROOT

SENSOR = ('{repositoryLocationName: "datenwerk", repositoryName: "__repository__", '
          'sensorName: "inbox_sensor"}')
START_SENSOR = f"mutation {{ startSensor(sensorSelector: {SENSOR}) {{ __typename }} }}"
SENSOR_STATE = (f"{{ sensorOrError(sensorSelector: {SENSOR}) "
                "{ ... on Sensor { sensorState { status } } } }")
PROXY_NAME = "datenwerk.example.org"


@dataclass
class Server:
    port: int
    log: Path
    pid: int

    def request(self, method: str, path: str, body: dict | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = json.dumps(body).encode() if body is not None else None
            all_headers = {"Host": f"127.0.0.1:{self.port}",
                           **({"Content-Type": "application/json"} if data else {}),
                           **(headers or {})}
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def sensor_status(self) -> str:
        status, body = self.request("POST", "/graphql", {"query": SENSOR_STATE})
        assert status == 200, body
        return json.loads(body)["data"]["sensorOrError"]["sensorState"]["status"]


def launch_guarded_ui() -> Launched:
    """The UI as `make dev` serves it behind a reverse proxy named ``PROXY_NAME``, on an empty
    home of its own."""
    home = _SESSION_ROOT / "guarded-ui"
    home.mkdir(parents=True, exist_ok=True)
    return launch_ui(home, {"DATENWERK_UI_ALLOWED_HOSTS": PROXY_NAME})


LAUNCHERS["guarded_ui"] = launch_guarded_ui  # started with the session (tests/conftest.py)


@pytest.fixture(scope="module")
def guarded_ui() -> Iterator[Server]:
    launched = claim_ui("guarded_ui")
    try:
        wait_for_code_location(launched.url, launched.process, launched.log, timeout=300)
        yield Server(launched.port, launched.log, launched.process.pid)
    finally:
        stop_ui(launched.process)


def attacker_site(ui_port: int) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A page on another loopback origin (localhost:<other port>) that tries what a malicious
    page would: a simple cross-origin POST (no preflight) and a mutation by GET in an image."""
    ui = f"http://127.0.0.1:{ui_port}"
    page = f"""<!doctype html><title>cat pictures</title><script>
      const mutation = {json.dumps(START_SENSOR)};
      fetch("{ui}/graphql", {{method: "POST", mode: "no-cors",
        headers: {{"Content-Type": "text/plain"}}, body: JSON.stringify({{query: mutation}})}})
        .finally(() => {{
          const img = new Image();
          img.onload = img.onerror = () => {{ document.title = "done"; }};
          img.src = "{ui}/graphql?query=" + encodeURIComponent(mutation);
        }});
    </script>""".encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://localhost:{server.server_address[1]}/"


def test_cross_site_page_cannot_drive_the_ui(guarded_ui: Server) -> None:
    assert guarded_ui.sensor_status() == "STOPPED"
    from playwright.sync_api import sync_playwright

    site, page_url = attacker_site(guarded_ui.port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(page_url)
            page.wait_for_function("document.title === 'done'", timeout=60_000)
            # The UI's own page still works in the same browser.
            ui = browser.new_page()
            ui.goto(f"http://127.0.0.1:{guarded_ui.port}/jobs")
            ui.get_by_text("nightly_refresh").first.wait_for(timeout=120_000)
            browser.close()
    finally:
        site.shutdown()

    assert guarded_ui.sensor_status() == "STOPPED"
    refused = guarded_ui.log.read_text()
    assert f"refused POST /graphql: cross-site request from '{page_url.rstrip('/')}'" in refused
    # Chromium sends the image's Referer: refused as cross-site (without one: as a GET mutation).
    assert "refused GET /graphql: " in refused
    # The same mutation from a legitimate client (no browser, no Origin) takes effect.
    status, body = guarded_ui.request("POST", "/graphql", {"query": START_SENSOR})
    assert status == 200, body
    assert guarded_ui.sensor_status() == "RUNNING"


@pytest.mark.parametrize(("method", "headers", "why"), [
    ("GET", {}, "mutation by GET"),
    ("POST", {"Origin": "http://evil.example"}, "cross-site"),
    ("POST", {"Referer": "http://evil.example/page"}, "cross-site"),
    ("POST", {"Origin": "null"}, "cross-site"),
    ("POST", {"Host": "evil.example"}, "DNS rebinding"),
    ("POST", {"Host": f"evil.example:{0}"}, "DNS rebinding"),
])
def test_foreign_requests_are_refused(guarded_ui: Server, method: str, headers: dict[str, str],
                                      why: str) -> None:
    headers = {k: v.replace(":0", f":{guarded_ui.port}") for k, v in headers.items()}
    if method == "GET":
        status, body = guarded_ui.request("GET", f"/graphql?query={quote(START_SENSOR)}", None,
                                          headers)
    else:
        status, body = guarded_ui.request("POST", "/graphql", {"query": START_SENSOR}, headers)
    assert status == 403, (why, body)
    assert body.startswith(b"Refused: ")


def test_own_origin_and_proxy_name_are_served(guarded_ui: Server) -> None:
    query = {"query": "{ version }"}
    port = guarded_ui.port
    for headers in ({"Origin": f"http://127.0.0.1:{port}"},
                    {"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"},
                    {"Host": PROXY_NAME, "Origin": f"https://{PROXY_NAME}"}):
        status, body = guarded_ui.request("POST", "/graphql", query, headers)
        assert status == 200, (headers, body)
        assert b'"version"' in body
    # A read by GET stays possible (the UI and tools use it).
    status, _ = guarded_ui.request("GET", f"/graphql?query={quote('{ version }')}")
    assert status == 200


def _daemons_of(pid: int) -> list[int]:
    """The ``dagster-daemon`` children of process ``pid`` that are still running."""
    found = []
    for child in set(children(parent=pid)) - set(children("Z", parent=pid)):
        with contextlib.suppress(OSError):
            if b"dagster-daemon" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def test_a_daemon_that_dies_is_started_again_and_said(guarded_ui: Server) -> None:
    """The daemon runs schedules, sensors and the run queue. Killed (the OOM killer, a crash),
    it was gone for good while the UI went on as if nothing happened. Last in this module: the
    tests above need no daemon."""
    deadline = time.monotonic() + 120
    while not (daemons := _daemons_of(guarded_ui.pid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(daemons) == 1, daemons
    os.kill(daemons[0], signal.SIGKILL)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        again = _daemons_of(guarded_ui.pid)
        if again and again != daemons:
            break
        time.sleep(0.5)
    assert again and again != daemons, "the daemon was not started again"
    log = guarded_ui.log.read_text(errors="replace")
    assert "the Dagster daemon ended (exit status -9)" in log
    assert "Starting it again" in log

