"""Stewards hear about their files: a delivery that was rejected, or that had rows set aside.

After each load, every newly registered file with a problem becomes visible in Dagster (a
WARNING event naming the file and its counts, and metadata on the file registry), and the data
steward of its department (``orchestration/stewards.yml``) gets a German e-mail through the
SMTP settings of the failure alert: which file, rows read / loaded / set aside, the top reasons
with row numbers and the file's own column names, and what to do. Neither the event nor the
e-mail holds a value from the file; the full report with values stays in ``protected/reports/``.

The warning check ``deliveries_accepted`` on each file registry says, on every run, which
files' latest delivery is still rejected or incomplete.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from dagster import (
    MetadataValue,
)

from warehouse import paths, settings
from warehouse.exports import LOCAL_TZ, today
from warehouse.files import write_json_atomically
from warehouse.reasons import steward_field, translate

from .alerts import send_mail
from .stewards import stewards

log = logging.getLogger(__name__)

TOP_REASONS = 5
LINES_PER_REASON = 8
ENTITIES_DE = {"clients": "Klient:innen", "cases": "Fälle", "contacts": "Kontakte",
               "goals": "Ziele", "assessments": "Einschätzungen", "bookings": "Buchungen"}


@dataclass(frozen=True)
class Reason:
    column: str  # the file's own column name (the data standard's field where unknown)
    reason: str
    rows: int
    lines: tuple[int, ...]


@dataclass
class Problem:
    """A delivered file that was rejected or had rows set aside: counts and reasons only."""

    source_file: str
    source_sha256: str
    organisation_code: str
    entity: str
    profile: str
    outcome: str
    rows_read: int
    rows_loaded: int
    rows_quarantined: int
    message: str | None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def department_code(self) -> str | None:
        # case_management/<organisation>/<department>/<file>
        parts = self.source_file.split("/")
        return parts[2] if parts[0] == "case_management" and len(parts) > 3 else None

    @property
    def rejected(self) -> bool:
        return self.outcome == "rejected"

    @property
    def summary(self) -> str:
        """One English line for the Dagster event log: file and counts, never values."""
        if self.rejected:
            return f"delivery {self.source_file} was REJECTED as a whole (nothing loaded)"
        return (f"delivery {self.source_file}: {self.rows_read} rows read, {self.rows_loaded} "
                f"loaded, {self.rows_quarantined} set aside (quarantined)")


def _file_column(profile: str, entity: str, field_name: str) -> str:
    """The export's own column for a field of the data standard, where the profile maps it."""
    from ingestion.standard import profiles

    known = profiles().get(profile)
    mapping = known.entities.get(entity) if known else None
    return steward_field(mapping.columns.get(field_name, field_name) if mapping else field_name)


def problems(con: Any, dataset: str, known: frozenset[str] = frozenset(),
             latest_per_file: bool = False) -> list[Problem]:
    """Rejected or incomplete files in ``dataset``'s registry (completed loads only).

    ``con``: anything with ``execute_sql`` (dlt's SQL client) or a DuckDB connection.
    ``known``: hashes of files registered before (left out); ``latest_per_file``: only each file
    name's latest delivery (a corrected re-delivery clears the problem)."""
    run: Callable[[str], list[tuple[Any, ...]]] = (
        con.execute_sql if hasattr(con, "execute_sql")
        else lambda sql: con.execute(sql).fetchall())
    tables = {r[0] for r in run(
        "select table_name from information_schema.tables "
        f"where table_schema = '{dataset}'")}
    if "file_registry" not in tables:
        return []
    latest = (" qualify row_number() over (partition by r.source_file "
              "order by r.registered_at desc) = 1") if latest_per_file else ""
    rows = run(
        "select r.source_file, r.source_sha256, r.organisation_code, r.entity, r.profile, "
        "r.outcome, r.rows_read, r.rows_loaded, r.rows_quarantined, r.message "
        f'from "{dataset}".file_registry as r '
        f'join "{dataset}"._dlt_loads as l on l.load_id = r._dlt_load_id and l.status = 0 '
        # An identical file delivered again (ingestion.delivery.REPEATED) loads nothing: it
        # neither has a problem nor clears one.
        f"where r.outcome <> 'repeated' {latest} order by r.source_file")
    found = [Problem(*row) for row in rows
             if (row[5] == "rejected" or (row[8] or 0) > 0)
             and row[1] not in known]
    if found and "quarantine" in tables:
        hashes = ", ".join(f"'{p.source_sha256}'" for p in found)
        reasons = run(
            "select source_sha256, field, reason, count(*) as n, "
            f"list(source_line order by source_line)[1:{LINES_PER_REASON}] "
            f'from "{dataset}".quarantine where source_sha256 in ({hashes}) '
            "group by all order by source_sha256, n desc, field")
        by_file = {p.source_sha256: p for p in found}
        for sha, field_name, reason, n, lines in reasons:
            problem = by_file[sha]
            if len(problem.reasons) < TOP_REASONS:
                problem.reasons.append(Reason(
                    _file_column(problem.profile, problem.entity, field_name), reason, int(n),
                    tuple(int(x) for x in lines)))
    return found


def _german_reason(text: str | None) -> str:
    """A reason in German (:func:`warehouse.reasons.translate`, as in the report and the reason
    file), without what a parser may quote from the file on later lines."""
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    line = translate(line, "de")
    return line if len(line) <= 240 else line[:240] + " …"


def _german_count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def steward_message(problem: Problem, steward_name: str | None) -> tuple[str, str]:
    """Subject and German text of the e-mail to the file's steward (no value from the file)."""
    name = problem.source_file.rsplit("/", 1)[-1]
    where = f" ({problem.department_code})" if problem.department_code else ""
    if problem.rejected:
        subject = f"[Datenwerk] Lieferung {name}{where} abgewiesen"
    else:
        subject = (f"[Datenwerk] Lieferung {name}{where}: "
                   f"{_german_count(problem.rows_quarantined)} Zeilen zurückgestellt")
    entity = ENTITIES_DE.get(problem.entity, problem.entity)
    lines = [f"Guten Tag {steward_name}," if steward_name else "Guten Tag,", "",
             (f"Datenwerk hat die Datei {problem.source_file} ({entity}, Exportprofil "
             f"{problem.profile}) am {today().strftime('%d.%m.%Y')} "
             "verarbeitet."), ""]
    if problem.rejected:
        lines += ["Die Datei wurde als Ganzes abgewiesen; nichts daraus wurde geladen.",
                  f"Grund: {_german_reason(problem.message)}", "",
                  "Was ist zu tun?",
                  ("Bitte prüfen Sie den Export (Format, Spalten, Zeichensatz) und legen Sie die "
                  "korrigierte Datei erneut in den Posteingang. Die abgewiesene Datei liegt mit "
                  f"ihrem Grund unter protected/rejected/{problem.source_file} auf dem "
                  "Datenwerk-Server.")]
    else:
        width = len(_german_count(problem.rows_read))
        lines += [f"  Zeilen gelesen:        {_german_count(problem.rows_read):>{width}}",
                  f"  Zeilen geladen:        {_german_count(problem.rows_loaded):>{width}}",
                  f"  Zeilen zurückgestellt: {_german_count(problem.rows_quarantined):>{width}}",
                  "", "Häufigste Gründe (Spalte der Datei, Grund, Zeilennummern):"]
        for r in problem.reasons:
            more = " …" if r.rows > len(r.lines) else ""
            rows = "Zeile" if r.rows == 1 else "Zeilen"
            lines.append(f"  - Spalte „{r.column}“: {_german_reason(r.reason)} – "
                         f"{_german_count(r.rows)} "
                         f"{rows}: {', '.join(map(str, r.lines))}{more}")
        lines += ["", "Was ist zu tun?",
                  ("Bitte korrigieren Sie diese Zeilen in der Fachsoftware. Die übrigen Zeilen "
                  "sind geladen; die zurückgestellten werden mit der nächsten Lieferung der "
                  "Datei geladen, sobald sie korrekt sind.")]
    lines += ["", ("Den vollständigen Bericht mit allen Zeilen finden Sie auf dem "
              f"Datenwerk-Server unter protected/reports/{problem.source_file}.*.html (nur für "
              "Berechtigte lesbar)."), "",
              "Diese Nachricht enthält keine Werte aus der Datei.", "-- ", "Datenwerk"]
    return subject, "\n".join(lines)


def notify(found: Sequence[Problem], warn: Callable[[str], None]) -> dict[str, int]:
    """A WARNING per file, and an e-mail to its steward (or the alert recipients when the file
    belongs to no department). Returns e-mails sent per recipient; a failed send is logged."""
    config = stewards().departments
    smtp = settings.smtp_settings() or {}
    team = [r.strip() for r in str(smtp.get("recipients", "")).split(",") if r.strip()]
    sent: dict[str, int] = {}
    for problem in found:
        warn(problem.summary + (f"; top reason: column {problem.reasons[0].column}: "
                                f"{problem.reasons[0].reason}" if problem.reasons else ""))
        # Stewards are keyed by organisation and department (a code alone is not unique).
        steward = config.get((problem.organisation_code, problem.department_code or ""))
        recipients = [steward.email] if steward else team
        subject, text = steward_message(problem, steward.name if steward else None)
        try:
            if send_mail(subject, text, recipients):
                for r in recipients:
                    sent[r] = sent.get(r, 0) + 1
        except OSError as exc:
            warn(f"could not e-mail the steward about {problem.source_file}: {exc!r}")
    return sent


@dataclass(frozen=True)
class Overdue:
    """A department that sent nothing within its limit (``entity`` None), or whose exports
    no longer carry ``entity`` (``entity_at``: its last load; None: never delivered)."""

    organisation_code: str
    department_code: str
    limit_days: float
    last_delivery: datetime | None
    entity: str | None
    entity_at: datetime | None

    @property
    def key(self) -> str:
        """One reminder per overdue delivery: a new delivery that is late again is a new one."""
        since = self.entity_at.isoformat() if self.entity_at else "never"
        return f"{self.organisation_code}/{self.department_code}/{self.entity or '*'}/{since}"


def _date_de(at: datetime) -> str:
    return at.astimezone(LOCAL_TZ).strftime("%d.%m.%Y")


def reminder_message(overdue: Overdue, steward_name: str | None,
                     now: datetime) -> tuple[str, str]:
    """Subject and German text of the reminder to the department's steward."""
    where = f"{overdue.department_code} ({overdue.organisation_code})"
    folder = f"inbox/case_management/{overdue.organisation_code}/{overdue.department_code}/"
    rhythm = (f"Vereinbart ist eine Lieferung mindestens alle "
              f"{overdue.limit_days:g} Tage.")
    lines = [f"Guten Tag {steward_name}," if steward_name else "Guten Tag,", ""]
    if overdue.entity is None:
        subject = f"[Datenwerk] Lieferung überfällig: {where}"
        if overdue.last_delivery:
            days = (now - overdue.last_delivery).days
            lines.append(f"die Abteilung {where} hat seit dem {_date_de(overdue.last_delivery)} "
                         f"({days} Tagen) keine Datei aus der Fachsoftware geliefert. {rhythm}")
        else:
            lines.append(f"von der Abteilung {where} ist noch keine Datei aus der Fachsoftware "
                         f"angekommen. {rhythm}")
        todo = ["Bitte legen Sie den aktuellen Export in den Posteingang "
                f"({folder}). Bis dahin zeigen die Auswertungen der Abteilung den Stand der "
                "letzten Lieferung."]
    else:
        entity = ENTITIES_DE.get(overdue.entity, overdue.entity)
        subject = f"[Datenwerk] {entity} fehlen in den Lieferungen: {where}"
        last = (f", zuletzt am {_date_de(overdue.last_delivery)}"
                if overdue.last_delivery else "")
        if overdue.entity_at:
            days = (now - overdue.entity_at).days
            lines.append(f"die Abteilung {where} liefert Dateien{last}, aber seit dem "
                         f"{_date_de(overdue.entity_at)} ({days} Tagen) keine {entity} mehr. "
                         f"{rhythm}")
        else:
            lines.append(f"die Abteilung {where} liefert Dateien{last}, aber noch nie "
                         f"{entity}. {rhythm}")
        todo = ["Bitte prüfen Sie, ob der Export der Fachsoftware die "
                f"{entity} noch enthält, und legen Sie ihn in den Posteingang ({folder}). "
                f"Bis dahin fehlen neuere {entity} in den Auswertungen der Abteilung."]
    lines += ["", "Was ist zu tun?", *todo, "",
              ("Diese Erinnerung kommt einmal; eine weitere erst, wenn nach einer neuen "
               "Lieferung die Frist wieder verstreicht."), "-- ", "Datenwerk"]
    return subject, "\n".join(lines)


def remind_overdue(found: Sequence[Overdue], warn: Callable[[str], None]) -> int:
    """A German e-mail to the steward of each overdue delivery (the alert recipients where the
    department has none), once per delivery: what was sent is kept in
    :func:`warehouse.paths.reminders_file`. Returns the number of e-mails sent; nothing is sent
    (or kept) while no SMTP server is configured, and a failed send is retried on the next check."""
    smtp = settings.smtp_settings()
    if not found or smtp is None:
        return 0
    state = paths.reminders_file()
    try:
        sent_before: dict[str, str] = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        sent_before = {}
    config = stewards().departments
    team = [r.strip() for r in str(smtp["recipients"]).split(",") if r.strip()]
    now = datetime.now(UTC)
    kept: dict[str, str] = {}
    sent = 0
    for overdue in found:
        if overdue.key in sent_before:
            kept[overdue.key] = sent_before[overdue.key]
            continue
        steward = config.get((overdue.organisation_code, overdue.department_code))
        subject, text = reminder_message(overdue, steward.name if steward else None, now)
        try:
            if send_mail(subject, text, [steward.email] if steward else team):
                kept[overdue.key] = now.isoformat()
                sent += 1
        except OSError as exc:
            warn(f"could not remind the steward of {overdue.organisation_code}/"
                 f"{overdue.department_code}: {exc!r}")
    # Only what is still overdue: a department that delivered again starts afresh.
    state.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(state, kept)
    return sent


def problem_rows(found: Sequence[Problem]) -> list[dict[str, Any]]:
    return [{"file": p.source_file, "outcome": p.outcome, "rows_read": p.rows_read,
             "rows_loaded": p.rows_loaded, "rows_set_aside": p.rows_quarantined} for p in found]


def problem_metadata(found: Sequence[Problem]) -> dict[str, MetadataValue]:
    """Metadata for the file registry's materialisation: files and counts, never values."""
    return {
        "deliveries_with_problems": MetadataValue.int(len(found)),
        "delivery_problems": MetadataValue.json(problem_rows(found)),
    }
