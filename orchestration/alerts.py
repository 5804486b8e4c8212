"""The failure alert: when a run fails, say which asset, check or file, where the team looks.

The alert always goes to the log (the sensor's tick in the UI and the daemon's output); by e-mail
when ``DATENWERK_SMTP_HOST`` is set, and as a JSON POST when ``DATENWERK_ALERT_WEBHOOK`` is set
(settings in :mod:`warehouse.settings`). It carries names, counts and the error's first lines -
never row values: the detailed reasons of rejected files stay in ``protected/rejected/``.

The sensor runs by default (an alert nobody turned on is no alert); it needs the Dagster daemon,
which ``make dev`` (``dagster dev``) starts.
"""

import json
import smtplib
import ssl
import unicodedata
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from warehouse import paths, settings

MAX_LISTED = 15  # beyond this, "and N more": an alert is read on a phone
ERROR_CHARS = 500  # first lines of an error; the full trace is in the run's log


@dataclass
class Alert:
    run_id: str
    job_name: str
    failed_steps: list[dict[str, str]] = field(default_factory=list)
    failed_assets: list[str] = field(default_factory=list)
    failed_checks: list[dict[str, str]] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)
    not_refreshed: int = 0
    url: str | None = None

    @property
    def subject(self) -> str:
        what = self.failed_assets[:2] or [c["check"] for c in self.failed_checks[:2]]
        named = ", ".join(what) + (" ..." if len(what) == 2 else "")
        return f"[Datenwerk] {self.job_name} failed" + (f": {named}" if named else "")

    @property
    def text(self) -> str:
        lines = [f"Run {self.run_id} of {self.job_name} failed."]
        if self.url:
            lines.append(f"Details: {self.url}")

        def listing(title: str, items: list[str]) -> None:
            if items:
                lines.append(f"\n{title}:")
                lines.extend(f"  - {item}" for item in items[:MAX_LISTED])
                if len(items) > MAX_LISTED:
                    lines.append(f"  ... and {len(items) - MAX_LISTED} more")

        listing("Failed assets", self.failed_assets)
        listing("Failed checks", [
            f"{c['check']} ({c['severity']}): {c['description']}" for c in self.failed_checks
        ])
        listing("Rejected files (reasons in protected/rejected/)", self.rejected_files)
        listing("Failed steps", [f"{s['step']}: {s['error']}" for s in self.failed_steps])
        if self.not_refreshed:
            lines.append(f"\n{self.not_refreshed} further asset(s) were not refreshed.")
        lines.append("\nThe last good publication stays in place until a run succeeds.")
        return "\n".join(lines)


def _rejected_since(started: float | None, ended: float | None) -> list[str]:
    """Files rejected during the run: their ``.reason.txt`` was written while it ran."""
    root = paths.home() / "protected" / "rejected"
    if started is None or not root.is_dir():
        return []
    until = (ended or datetime.now(UTC).timestamp()) + 1
    found = []
    for reason in sorted(root.rglob("*.reason.txt")):
        if started - 1 <= reason.stat().st_mtime <= until:
            found.append(reason.relative_to(root).as_posix().removesuffix(".reason.txt"))
    return found


def _first_lines(message: str) -> str:
    text = " ".join(message.strip().split())
    return text if len(text) <= ERROR_CHARS else text[:ERROR_CHARS] + " ..."


def compose_alert(instance: DagsterInstance, run_id: str) -> Alert:
    """What failed in run ``run_id``, from its event log."""
    record = instance.get_run_record_by_id(run_id)
    run = record.dagster_run if record else instance.get_run_by_id(run_id)
    alert = Alert(run_id=run_id, job_name=run.job_name if run else "?")
    if settings.ui_url():
        alert.url = f"{settings.ui_url()}/runs/{run_id}"
    planned: dict[str, list[str]] = {}
    materialised: set[str] = set()
    failed_steps: list[str] = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None:
            continue
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            key = event.asset_materialization_planned_data.asset_key.to_user_string()
            planned.setdefault(event.step_key or "", []).append(key)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            materialised.add(event.step_materialization_data.materialization.asset_key
                             .to_user_string())
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            failed_steps.append(event.step_key or "")
            error = event.step_failure_data.error
            alert.failed_steps.append({
                "step": event.step_key or "",
                "error": _first_lines(error.message if error else ""),
            })
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if not evaluation.passed:
                alert.failed_checks.append({
                    "check": f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                    "severity": evaluation.severity.value,
                    "description": _first_lines(evaluation.description or ""),
                })
    alert.failed_assets = [
        key for step in failed_steps for key in planned.get(step, []) if key not in materialised
    ]
    all_missing = {k for keys in planned.values() for k in keys} - materialised
    alert.not_refreshed = len(all_missing - set(alert.failed_assets))
    alert.rejected_files = _rejected_since(
        record.start_time if record else None, record.end_time if record else None
    )
    return alert


def one_line(text: str) -> str:
    """``text`` without control characters (each becomes ``?``): a subject names delivered files
    and folders, whose names may hold a line break, which a mail header must not."""
    return "".join("?" if unicodedata.category(c).startswith("C") else c for c in text)


def send_mail(subject: str, text: str, recipients: list[str] | None = None) -> bool:
    """Mail ``text`` through the configured SMTP server (to ``DATENWERK_SMTP_TO`` unless
    ``recipients`` are given); False when no server or no recipient is configured."""
    smtp = settings.smtp_settings()
    if smtp is None:
        return False
    if recipients is None:
        recipients = [r.strip() for r in str(smtp["recipients"]).split(",") if r.strip()]
    if not recipients:
        return False
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = str(smtp["sender"])
    message["To"] = ", ".join(recipients)
    message.set_content(text)
    with smtplib.SMTP(str(smtp["host"]), int(smtp["port"]), timeout=15) as client:
        if smtp["starttls"]:
            client.starttls(context=ssl.create_default_context())
        if smtp["user"]:
            client.login(str(smtp["user"]), str(smtp["password"]))
        client.send_message(message)
    return True


def send_email(alert: Alert) -> bool:
    """Mail the alert if SMTP is configured; True if sent."""
    return send_mail(alert.subject, alert.text)


def post_webhook(alert: Alert) -> bool:
    """POST the alert as JSON if a webhook is configured; True if accepted (2xx)."""
    url = settings.alert_webhook()
    if url is None:
        return False
    body = json.dumps({"text": f"{alert.subject}\n{alert.text}", **asdict(alert)}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return 200 <= response.status < 300


@run_failure_sensor(
    name="failure_alert",
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "When a run fails: names the failed assets, checks and rejected files, in the log, by "
        "e-mail (DATENWERK_SMTP_*) and/or to a webhook (DATENWERK_ALERT_WEBHOOK)."
    ),
)
def failure_alert(context: RunFailureSensorContext) -> None:
    alert = compose_alert(context.instance, context.dagster_run.run_id)
    context.log.error(f"{alert.subject}\n{alert.text}")
    # A channel that is down must not silence the others: each is tried, errors are logged.
    for channel, send in (("e-mail", send_email), ("webhook", post_webhook)):
        try:
            if send(alert):
                context.log.info(f"Alert sent by {channel}.")
        except (OSError, smtplib.SMTPException) as exc:
            context.log.error(f"Could not send the alert by {channel}: {exc!r}")



@sensor(
    name="dead_run_monitor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Marks a run failed when its run worker is gone (killed, out of memory, a full disk), so "
        "that failure_alert reports it, its warehouse_writer pool slot is freed and the run queue "
        "moves on. Dagster's run monitoring cannot see this for locally launched runs."
    ),
)
def dead_run_monitor(context: SensorEvaluationContext) -> SkipReason:
    from .runs import fail_dead_workers

    dead = fail_dead_workers(context.instance, without_tag=False)
    for run in dead:
        context.log.error(f"Run {run.run_id} of {run.job_name}: its worker is gone; marked failed.")
    return SkipReason(f"{len(dead)} dead run(s) marked failed" if dead else "no dead runs")
