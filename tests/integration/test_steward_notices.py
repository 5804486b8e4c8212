"""A bad delivery is seen: a WARNING event naming the file and counts, metadata on the file
registry, a warning check, and a German e-mail to the department's steward (received by a local
SMTP server) with counts, reasons, row numbers and the file's own column names - no value."""

from __future__ import annotations

import shutil
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from dagster import AssetKey, DagsterInstance

from tests.conftest import PipelineRun, copy_home
from tests.integration.test_freshness_and_alerts import (  # noqa: F401 - fixture
    FIXTURES,
    evaluations,
    run_job,
    smtp_server,
)

REGISTRY = AssetKey(["raw_case_management", "file_registry"])
BAD_DATE, BAD_CODE, BAD_CLIENT = "31.02.2024", "weggelaufen", "K-STEWARD-99"


def write_cases(path: Path) -> None:
    """20 cases, two of them wrong: an impossible start date and an unknown end reason."""
    lines = ["Fall-Nr;Klient-Nr;Programm;Zuweisung;Beginn;Ende;Beendigungsgrund;Fachkraft-Nr"]
    for i in range(1, 21):
        start, reason, client = "01.02.2024", "regulär beendet", f"K-ST-{i}"
        if i == 7:
            start, client = BAD_DATE, BAD_CLIENT
        if i == 12:
            reason = BAD_CODE
        lines.append(f"F-ST-{i};{client};SB-ALLG;Jobcenter;{start};30.04.2024;{reason};MA-1")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def body(message: EmailMessage) -> str:
    return str(message.get_content())


def test_bad_deliveries_warn_and_mail_the_steward(
    small_first_run: PipelineRun, monkeypatch, smtp_server  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    home = copy_home(small_first_run.home, "steward-notices")
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    write_cases(sb / "faelle_nachlieferung.csv")
    shutil.copy(FIXTURES / "klienten_binary_garbage.csv", sb / "klienten_kaputt.csv")
    port, received = smtp_server
    monkeypatch.setenv("DATENWERK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DATENWERK_SMTP_PORT", str(port))
    monkeypatch.setenv("DATENWERK_SMTP_TO", "team@example.org")
    instance = DagsterInstance.ephemeral()

    from orchestration.definitions import defs

    loads = [k for k in defs.resolve_asset_graph().get_all_asset_keys()
             if k.path[0] == "raw_case_management"]
    result = run_job(home, instance, "nightly_refresh", asset_selection=loads)
    assert result.success

    warnings = [e.message for e in instance.all_logs(result.run_id)
                if e.level == 30 and "delivery case_management/swm/SB/" in (e.message or "")]
    assert any("faelle_nachlieferung.csv: 20 rows read, 18 loaded, 2 set aside" in w
               for w in warnings), warnings
    assert any("klienten_kaputt.csv was REJECTED" in w for w in warnings), warnings
    materialisation = instance.get_latest_materialization_event(REGISTRY)
    assert materialisation is not None
    metadata = materialisation.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["deliveries_with_problems"].value == 2
    check = evaluations(result)["deliveries_accepted"]
    assert not check.passed and check.severity.value == "WARN"

    mails: list[EmailMessage] = [message_from_bytes(e.content, policy=policy.default)  # type: ignore[misc]
                                 for e in received]
    to_steward = [m for m in mails if m["To"] == "katrin.brueckner@example.org"]
    assert len(to_steward) == 2, [m["To"] for m in mails]
    subjects = {" ".join(str(m["Subject"]).split()): m for m in to_steward}  # unfolded
    cases = next(m for s, m in subjects.items() if "faelle_nachlieferung.csv" in s)
    assert any("faelle_nachlieferung.csv (SB): 2 Zeilen zurückgestellt" in s for s in subjects)
    text = body(cases)
    assert "Guten Tag Katrin Brückner" in text
    assert "Zeilen gelesen:        20" in text and "Zeilen zurückgestellt:  2" in text
    # the file's own columns and the row numbers (header is line 1: case 7 is line 8)
    assert "Spalte „Beginn“" in text and "Spalte „Beendigungsgrund“" in text
    assert "Zeile: 8" in text and "Zeile: 13" in text
    assert "Was ist zu tun?" in text and "protected/reports/" in text
    rejected = next(m for s, m in subjects.items() if "klienten_kaputt.csv (SB) abgewiesen" in s)
    assert "protected/rejected/" in body(rejected)
    for mail in to_steward:
        content = body(mail) + str(mail["Subject"])
        for value in (BAD_DATE, BAD_CODE, BAD_CLIENT, "F-ST-7", "MA-1", "Jobcenter"):
            assert value not in content, (value, content)
    reports = list((home / "protected" / "reports").rglob("faelle_nachlieferung.csv.*.html"))
    assert reports and BAD_CODE in reports[0].read_text(encoding="utf-8")


def test_a_file_name_with_a_line_break_is_one_line_in_the_subject(
    monkeypatch, smtp_server  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    """File names may hold a line break (sftp allows it). Before, the subject refused it
    (ValueError) and the load step failed after its load, so nothing was published that night;
    a header injected through the name is no header either."""
    from orchestration.deliveries import Problem, notify

    port, received = smtp_server
    monkeypatch.setenv("DATENWERK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("DATENWERK_SMTP_PORT", str(port))
    monkeypatch.setenv("DATENWERK_SMTP_FROM", "datenwerk@example.org")
    monkeypatch.setenv("DATENWERK_SMTP_TO", "ops@example.org")
    name = "case_management/swm/SB/kontakte\r\nBcc: x@evil.example\n.csv"
    problem = Problem(name, "ab" * 32, "swm", "contacts", "standard_csv", "rejected", 3, 0, 0,
                      "the file is empty")
    warnings: list[str] = []
    assert notify([problem], warnings.append) == {"katrin.brueckner@example.org": 1}
    [mail] = received
    assert mail.rcpt_tos == ["katrin.brueckner@example.org"]
    message = message_from_bytes(mail.content, policy=policy.default)
    assert message["Subject"].strip() == (
        "[Datenwerk] Lieferung kontakte??Bcc: x@evil.example?.csv (SB) abgewiesen")
    assert message["Bcc"] is None
