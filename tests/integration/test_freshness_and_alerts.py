"""Freshness checks and the failure alert, on real runs of real jobs.

The publication is moved back 40 hours: the freshness run fails on its blocking check, and the
failure alert - evaluated for real against that run - names the check in the log, in an e-mail
to an SMTP server on loopback and in a JSON POST to a webhook on loopback. A run that rejects a
file and cannot publish gets an alert naming the asset and the file.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    build_run_status_sensor_context,
)

from tests.conftest import PipelineRun, copy_home, use_home
from warehouse.publish import current_generation_file

FIXTURES = Path(__file__).parent.parent / "fixtures" / "case_management"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list]]:
    from aiosmtpd.controller import Controller

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            received.append(envelope)
            return "250 Message accepted"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, list]]:
    received: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/datenwerk", received
    finally:
        server.shutdown()


def run_job(home: Path, instance: DagsterInstance, job: str, **kwargs):  # type: ignore[no-untyped-def]
    from orchestration.definitions import defs

    use_home(home)
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, raise_on_error=False, **kwargs
    )


def evaluations(result) -> dict:  # type: ignore[no-untyped-def]
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION
    }


def evaluate_failure_alert(instance: DagsterInstance, run_id: str) -> None:
    """Run the failure_alert sensor on a failed run, as the daemon does."""
    from orchestration.alerts import failure_alert

    run = instance.get_run_by_id(run_id)
    failure = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)[0].dagster_event
    context = build_run_status_sensor_context(
        sensor_name="failure_alert", dagster_event=failure, dagster_instance=instance,
        dagster_run=run,
    ).for_run_failure()
    failure_alert(context)


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int, recipients: str) -> None:
    monkeypatch.setenv("DATENWERK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DATENWERK_SMTP_PORT", str(port))
    monkeypatch.setenv("DATENWERK_SMTP_FROM", "datenwerk@example.org")
    monkeypatch.setenv("DATENWERK_SMTP_TO", recipients)


def assert_reminder(mail, subject: str, *phrases: str) -> None:  # type: ignore[no-untyped-def]
    """A steward's reminder: its German subject, and each phrase in its text."""
    reminder = message_from_bytes(mail.content, policy=policy.default)
    assert reminder["Subject"] == subject
    text = reminder.get_content()  # type: ignore[attr-defined]
    for phrase in phrases:
        assert phrase in text, (phrase, text)


def test_stale_publication_and_late_department(
    small_first_run: PipelineRun, monkeypatch, smtp_server, webhook_server  # type: ignore[no-untyped-def]
) -> None:
    home = copy_home(small_first_run.home, "stale")
    instance = DagsterInstance.ephemeral()

    fresh = run_job(home, instance, "freshness_checks")
    assert fresh.success
    checks = evaluations(fresh)
    assert checks["publication_freshness"].passed
    assert checks["delivery_freshness"].passed  # every department delivered just now

    # The last publication 40 hours ago; SB's last file 40 days ago (limit 35), AJH's too (100).
    use_home(home)
    with duckdb.connect(str(current_generation_file())) as con:  # what the pipeline reads
        con.execute("update main._publication set published_at = published_at - interval 40 hour")
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        con.execute(
            "update raw_case_management.file_registry set registered_at = registered_at - "
            "interval 40 day where split_part(source_file, '/', 3) in ('SB', 'AJH')"
        )

    smtp_port, mails = smtp_server
    url, posts = webhook_server
    use_smtp(monkeypatch, smtp_port, "ops@example.org, steward@example.org")
    monkeypatch.setenv("DATENWERK_ALERT_WEBHOOK", url)
    monkeypatch.setenv("DATENWERK_UI_URL", "https://datenwerk.example.org/")

    stale = run_job(home, instance, "freshness_checks")
    assert not stale.success
    checks = evaluations(stale)
    assert not checks["publication_freshness"].passed
    assert "stale" in checks["publication_freshness"].description
    assert checks["publication_freshness"].metadata["age_hours"].value >= 40
    assert not checks["delivery_freshness"].passed
    assert checks["delivery_freshness"].metadata["late_departments"].value == ["swm/SB"]

    # SB's steward is reminded, in German, once: the next check finds the reminder sent.
    assert checks["delivery_freshness"].metadata["stewards_reminded"].value == 1
    assert [m.rcpt_tos for m in mails] == [["katrin.brueckner@example.org"]]
    assert_reminder(mails.pop(), "[Datenwerk] Lieferung überfällig: SB (swm)",
                    "Guten Tag Katrin Brückner,", "(40 Tagen) keine Datei",
                    "mindestens alle 35 Tage", "inbox/case_management/swm/SB/")

    evaluate_failure_alert(instance, stale.run_id)

    assert len(mails) == 1
    mail = mails[0]
    assert sorted(mail.rcpt_tos) == ["ops@example.org", "steward@example.org"]
    message = message_from_bytes(mail.content)
    assert "freshness_checks failed" in message["Subject"]
    body = message.get_payload(decode=True).decode()
    assert "published_marts:publication_freshness" in body
    assert "raw_case_management/file_registry:delivery_freshness (WARN)" in body
    assert f"https://datenwerk.example.org/runs/{stale.run_id}" in body

    assert len(posts) == 1
    content_type, payload = posts[0]
    assert content_type == "application/json"
    assert payload["run_id"] == stale.run_id and payload["job_name"] == "freshness_checks"
    assert "published_marts:publication_freshness" in [c["check"] for c in payload["failed_checks"]]
    assert "publication_freshness" in payload["text"]

    # The limit is configurable: 48 h tolerates the 40-hour-old publication.
    monkeypatch.setenv("DATENWERK_MAX_PUBLICATION_AGE_HOURS", "48")
    again = evaluations(run_job(home, instance, "freshness_checks"))
    assert again["publication_freshness"].passed
    assert again["delivery_freshness"].metadata["stewards_reminded"].value == 0
    assert len(mails) == 1  # the alert only: SB was reminded of this delivery already


def test_a_department_whose_exports_stopped_carrying_contacts_is_late(
    small_first_run: PipelineRun, monkeypatch, smtp_server  # type: ignore[no-untyped-def]
) -> None:
    """MBE still delivers every file but the contacts, whose last load is 40 days old (limit
    35): the department is late, the check names the entity, and its steward gets one German
    reminder. An entity a department never delivered counts once its stewards entry names it."""
    home = copy_home(small_first_run.home, "entity-stopped")
    with duckdb.connect(str(home / "warehouse" / "build.duckdb")) as con:
        con.execute(
            "update raw_case_management.file_registry set registered_at = registered_at - "
            "interval 40 day where source_file like '%/swm/MBE/%' and entity like '%contacts%'")
        # SUB's exports never carried assessments.
        con.execute("delete from raw_case_management.file_registry "
                    "where source_file like '%/swm/SUB/%' and entity like '%assessments%'")
    smtp_port, mails = smtp_server
    use_smtp(monkeypatch, smtp_port, "ops@example.org")
    instance = DagsterInstance.ephemeral()

    check = evaluations(run_job(home, instance, "freshness_checks"))["delivery_freshness"]
    assert not check.passed
    assert check.metadata["late_departments"].value == ["swm/MBE"]
    [stopped] = check.metadata["entities_not_delivered"].value
    assert stopped.startswith("swm/MBE: contacts last ")
    assert "Still delivering, but not every entity: swm/MBE: contacts" in check.description
    assert [m.rcpt_tos for m in mails] == [["leyla.aydemir@example.org"]]
    assert_reminder(mails[0], "[Datenwerk] Kontakte fehlen in den Lieferungen: MBE (swm)",
                    "liefert Dateien, zuletzt am", "(40 Tagen) keine Kontakte mehr")

    # The same overdue contacts: no second e-mail.
    assert not evaluations(run_job(home, instance, "freshness_checks"))[
        "delivery_freshness"].passed
    assert len(mails) == 1

    # SUB's stewards entry names the entities its exports must carry: assessments never came.
    shipped = Path(os.environ["DATENWERK_STEWARDS_FILE"]).read_text(encoding="utf-8")
    assert "      email: thomas.weissenfels@example.org\n" in shipped
    (home / "stewards.yml").write_text(shipped.replace(
        "      email: thomas.weissenfels@example.org\n",
        "      email: thomas.weissenfels@example.org\n"
        "      entities: [clients, cases, contacts, assessments]\n"), encoding="utf-8")
    monkeypatch.setenv("DATENWERK_STEWARDS_FILE", str(home / "stewards.yml"))
    check = evaluations(run_job(home, instance, "freshness_checks"))["delivery_freshness"]
    assert check.metadata["late_departments"].value == ["swm/MBE", "swm/SUB"]
    assert "swm/SUB: assessments never" in check.metadata["entities_not_delivered"].value
    assert_reminder(mails[-1], "[Datenwerk] Einschätzungen fehlen in den Lieferungen: SUB (swm)",
                    "aber noch nie Einschätzungen")


def test_alert_names_failed_asset_and_rejected_file(
    small_first_run: PipelineRun, monkeypatch, webhook_server  # type: ignore[no-untyped-def]
) -> None:
    home = copy_home(small_first_run.home, "alert-asset")
    # A broken export (rejected on load) and a publication folder that cannot be written.
    shutil.copy(FIXTURES / "klienten_binary_garbage.csv",
                home / "inbox" / "case_management" / "swm" / "SB" / "klienten_kaputt.csv")
    shutil.rmtree(home / "published")
    (home / "published").write_text("not a folder")
    url, posts = webhook_server
    monkeypatch.delenv("DATENWERK_SMTP_HOST", raising=False)
    monkeypatch.setenv("DATENWERK_ALERT_WEBHOOK", url)
    instance = DagsterInstance.ephemeral()

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    selection = [k for k in graph.get_all_asset_keys() if k.path[0] == "raw_case_management"]
    result = run_job(home, instance, "nightly_refresh",
                     asset_selection=[*selection, AssetKey(["published_marts"])])

    assert not result.success
    # A folder in the way is not transient: one attempt, no retry.
    assert not [e for e in result.all_events if e.event_type == DagsterEventType.STEP_UP_FOR_RETRY]
    evaluate_failure_alert(instance, result.run_id)

    assert len(posts) == 1
    _, payload = posts[0]
    assert payload["failed_assets"] == ["published_marts"]
    assert payload["rejected_files"] == ["case_management/swm/SB/klienten_kaputt.csv"]
    error = payload["failed_steps"][0]["error"]  # names the cause and the path in the way
    assert ("FileExistsError" in error or "NotADirectoryError" in error) and "published" in error
    assert "published_marts" in payload["text"] and "klienten_kaputt.csv" in payload["text"]
