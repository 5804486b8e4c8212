"""The ``datenwerk`` command: demo data, a full pipeline run, key set-up.

This is the user-facing front door (``make run`` calls it), so it prints; everything else logs.
Its ``--help`` text is :data:`DESCRIPTION`, written for the people who run it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from warehouse import disk, paths, settings

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from dagster import AssetMaterialization, DagsterEvent, DagsterInstance, EventLogRecord

    from orchestration.runs import Outcome

DAGSTER_YAML = """\
# Written by datenwerk. One run at a time: DuckDB allows one writing process per file.
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    default_limit: 1
# The daemon (make dev) marks a run failed when its worker is gone (its failure alert goes out)
# and frees the pool slots of finished runs; `datenwerk run` does the same for its own runs.
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  poll_interval_seconds: 60
  free_slots_after_run_end_seconds: 60
telemetry:
  enabled: false
"""


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME under DATENWERK_HOME (unless set), with the one-run-at-a-time settings."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home())
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # Ours is kept current; a file the team wrote themselves is left alone.
    if not config.exists() or (config.read_text().startswith(DAGSTER_YAML.splitlines()[0])
                               and config.read_text() != DAGSTER_YAML):
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def inbox_is_empty() -> bool:
    inbox = paths.inbox()
    return not inbox.exists() or not any(p.is_file() for p in inbox.rglob("*"))


def cmd_demo_data(args: argparse.Namespace) -> int:
    from ingestion.demo.generator import generate, generate_federation, increment
    from ingestion.pseudonymise import ensure_key_file

    if getattr(args, "increment", None):
        added = increment(paths.inbox(), paths.demo_truth(), share=args.increment, seed=args.seed)
        print(f"A later delivery in {paths.inbox()}: {sum(added.values()):,} more contacts "
              f"({', '.join(f'{d} {n:,}' for d, n in added.items())}).")
        return 0
    started = time.monotonic()
    members = getattr(args, "organisations", 1)
    if members > 1 and not settings.federation():
        print("Several organisations share department codes and need keys of their own: set "
              "DATENWERK_FEDERATION=1 for this installation first.", file=sys.stderr)
        return 2
    if members > 1:
        by_org = generate_federation(paths.inbox(), paths.demo_truth(), seed=args.seed,
                                     scale=args.scale, organisations=members)
        counts = {k: sum(c[k] for c in by_org.values()) for k in next(iter(by_org.values()))}
        print(f"A federation of {members} organisations: {', '.join(by_org)}")
    else:
        counts = generate(paths.inbox(), paths.demo_truth(), seed=args.seed, scale=args.scale)
    ensure_key_file()
    install_demo_stewards()
    print(f"Demo exports written to {paths.inbox()} in {time.monotonic() - started:.1f} s:")
    for entity, n in counts.items():
        print(f"  {entity:<12} {n:>10,}")
    print(f"Ground truth for tests: {paths.demo_truth()}")
    return 0


def install_demo_stewards() -> None:
    """The demo organisation's stewards become the installation's, unless it has its own."""
    from orchestration.stewards import DEMO_FILE, installation_file

    if installation_file() is None:
        shutil.copy(DEMO_FILE, paths.home() / "stewards.yml")


def cmd_init_org(args: argparse.Namespace) -> int:
    from ingestion.reference import (
        OPTIONAL,
        REQUIRED_TABLES,
        TABLES,
        TEMPLATE_SUFFIX,
        write_templates,
    )

    org = args.organisation
    try:  # the rule its reference tables' organisation_code must follow, not a stricter one
        paths.checked_code(org, "organisation code")
    except paths.InvalidCodeError as exc:
        print(exc, file=sys.stderr)
        return 2
    for source in ("case_management", "accounting"):
        (paths.inbox() / source / org).mkdir(parents=True, exist_ok=True)
    folder = paths.reference_inbox() / org
    written = write_templates(folder)
    print(f"Organisation {org}: inbox folders and reference templates in {paths.inbox()}")
    for name, (columns, description) in TABLES.items():
        kind = "required" if name in REQUIRED_TABLES else "optional"
        optional = f" (optional: {', '.join(OPTIONAL[name])})" if name in OPTIONAL else ""
        print(f"  {name}.csv ({kind}): {description}\n      columns: {', '.join(columns)}"
              + optional)
    print(f"{len(written)} template(s) written. Fill one in (UTF-8, ',' separated, one row per "
          f"line, organisation_code = {org}) and rename it from <table>.csv{TEMPLATE_SUFFIX} to "
          "<table>.csv: the next run loads it. A missing file or source is no error; its marts "
          "stay empty.")
    print(f"Exports: {paths.case_management_inbox() / org}/<department>/ and "
          f"{paths.accounting_inbox() / org}/. Stewards and delivery rhythms: add `{org}:` under "
          f"`organisations:` in {paths.home() / 'stewards.yml'} (see README).")
    from ingestion.pseudonymise import key_path

    if not (settings.pseudonym_key_from_env() or key_path().exists()):
        print(f"No pseudonymisation key yet ({key_path()}): create it with `datenwerk init-key` "
              "before the first run, and back it up.")
    return 0


def cmd_init_key(args: argparse.Namespace) -> int:
    from ingestion.pseudonymise import ensure_key_file, key_path

    existed = key_path().exists() or settings.pseudonym_key_from_env()
    path = ensure_key_file()
    print(("Key already present: " if existed else "Created pseudonymisation key: ") + str(path))
    print("Back it up outside the repository; without it, later loads cannot be linked.")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    from ingestion.pseudonymise import rotate_key

    if not args.yes:
        print("rotate-key makes a new pseudonymisation key and drops the case-management data "
              "keyed with the old one; the next run loads every file still in the inbox again "
              "under the new key. Files no longer in the inbox are not reloaded. Run again with "
              "--yes to do it.", file=sys.stderr)
        return 2
    # The warehouse records the new key: the next build is a full refresh (incremental models
    # must not keep rows of the old key). Never under a run: it would load under the old key
    # into the schemas this drops.
    with _between_runs("rotate-key") as free:
        if not free:
            return 75
        old, new, retired = rotate_key()
    print(f"New pseudonymisation key (fingerprint {new}) replaces the key {old}, "
          f"kept as {retired}.")
    from warehouse import erasure

    erased = [e for e in erasure.entries() if e.ids(old, "clients")]
    lost = [e for e in erased if not e.ids(new, "clients")]
    if erased:
        print(f"Erasure register: {len(erased) - len(lost)} of {len(erased)} erased client(s) "
              "recorded under the new key; the reload leaves them out.")
    if lost:
        print(f"  {len(lost)} erased client(s) were in no inbox file any more and are recorded "
              "under the old key only: should a later delivery hold them again, erase them "
              "again after it.", file=sys.stderr)
    print("The next `datenwerk run` reloads the case-management files in the inbox under it.")
    return 0


ERASED_TABLES_DE = {"clients": "Klient:innen", "cases": "Fälle", "contacts": "Kontakte",
                    "goals": "Ziele", "assessments": "Einschätzungen"}


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase one client (GDPR Art. 17, or the source system's deletion); German for the steward."""
    from ingestion.erasure import ErasureRefused, erase
    from ingestion.pseudonymise import KeyMismatchError, MissingKeyError

    number = sys.stdin.readline() if args.client == "-" else args.client
    # Never under a run: it deletes from build.duckdb, whose one writer a run is.
    with _between_runs("erase") as free:
        if not free:
            return 75
        try:
            result = erase(args.folder, number, args.reason)
        except (ErasureRefused, KeyMismatchError, MissingKeyError) as exc:
            print(f"Nicht gelöscht, nichts wurde geändert: {exc}", file=sys.stderr)
            return 2
    where = f"{result.organisation}/{result.folder}"
    if result.resumed:
        print(f"Eine unterbrochene Löschung dieser Klient:in aus {where} wurde abgeschlossen: "
              "ihre Zeilen waren gelöscht; jetzt sind auch die Datei verdichtet, die "
              "aufbereiteten Tabellen verworfen und ältere Veröffentlichungen entfernt.")
    elif not result.found:
        if result.already_erased:
            print(f"Diese Klient:in aus {where} ist bereits gelöscht (Löschregister); im "
                  "Datenbestand ist nichts mehr von ihr. Nichts wurde geändert.")
            return 0
        print(f"Nicht gefunden: Im Datenbestand ist keine Klient:in mit dieser Nummer aus {where} "
              "(mit dem aktuellen Schlüssel). Nichts wurde geändert und nichts eingetragen. "
              "Prüfen Sie den Ordner (<Träger>/<Fachbereichsordner> im Posteingang) und die "
              "Klientennummer aus der Fachsoftware.", file=sys.stderr)
        return 1
    else:
        print(f"Gelöscht: eine Klient:in aus {where} mit ihren Fällen und allem, was zu ihnen "
              "gehört.")
    print("Gelöschte Zeilen im Datenbestand:")
    for table, n in result.rows.items():
        print(f"  {ERASED_TABLES_DE[table]:<16} {n:>6}")
    print("Im Löschregister eingetragen: Pseudonym, Ordner, Zeitpunkt und Ihr Grund, nicht die "
          "Nummer.")
    print(f"Ältere Veröffentlichungen entfernt: {len(result.generations_removed)}; ältere "
          f"Fachbereichs-Exporte entfernt: {len(result.exports_removed)}.")
    if result.rejected_files:
        print(f"Abgewiesene Dateien, die die Nummer noch im Klartext enthalten (wie der "
              f"Posteingang; löschen Sie sie mit ihm): "
              f"{', '.join(str(p.relative_to(paths.home())) for p in result.rejected_files)}")
    print("Was jetzt geschieht:\n"
          "  - Die aufbereiteten Tabellen des Arbeitsbestands wurden verworfen; der nächste Lauf "
          "(datenwerk run) baut sie vollständig neu auf. Seine Veröffentlichung und seine "
          "Fachbereichs-Exporte enthalten die Person nicht mehr.\n"
          "  - Bis dahin enthalten die aktuelle Veröffentlichung und der jeweils neueste "
          "Fachbereichs-Export sie noch: starten Sie den Lauf bald. Danach werden auch sie "
          "entfernt; zu keiner Veröffentlichung von vor der Löschung kann zurückgekehrt werden.\n"
          "  - Spätere Lieferungen, die die Person noch enthalten, werden ohne ihre Zeilen "
          "geladen (in den Lieferungen als 'Zeilen gelöscht' gezählt).\n"
          "  - Die Exportdateien im Posteingang werden nicht gelöscht: Das regelt die "
          "Aufbewahrungsfrist Ihrer Organisation.")
    return 0


@contextlib.contextmanager
def _between_runs(what: str) -> Iterator[bool]:
    """True while ``what`` holds the run lock; False (said on stderr) if a run is in progress."""
    from orchestration import runs

    prepare_dagster_home()
    try:
        with runs.between_runs(what):
            yield True
    except runs.RunInProgress as exc:
        print(f"Not done: {exc}. Nothing was changed.", file=sys.stderr)
        yield False


def cmd_standard(args: argparse.Namespace) -> int:
    from ingestion.standard import render_markdown

    print(render_markdown(), end="")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Check a file as the nightly load would read it, without loading it; non-zero if anything
    would be rejected."""
    from ingestion.validate import default_language, report_lines, validate_file

    path = Path(args.file)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        return 2
    validation = validate_file(path, args.profile, args.organisation, args.department)
    print("\n".join(report_lines(validation, args.lang or default_language())))
    return 0 if validation.passed else 1


# The dbt step's run config for a full refresh (what the launchpad sets the same way).
FULL_REFRESH_CONFIG = {"ops": {"transform_assets": {"config": {"full_refresh": True}}}}


def cmd_run(args: argparse.Namespace) -> int:
    try:
        settings.engine()  # an unknown engine is refused before anything runs
    except ValueError as exc:
        print(f"Stopped: {exc}", file=sys.stderr)
        return 2
    settings.apply_process_environment()
    prepare_dagster_home()
    if args.demo_if_empty and inbox_is_empty():
        print("The inbox is empty: generating demo data first (datenwerk demo-data).")
        cmd_demo_data(argparse.Namespace(seed=42, scale=args.scale))
    from dagster import DagsterEventType, DagsterInstance

    from orchestration import runs

    started = time.monotonic()
    print(f"Running nightly_refresh on {paths.home()} ...")
    run_id = str(uuid.uuid4())  # the form of Dagster's own run ids
    log_file = paths.logs_dir() / f"run-{run_id}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"Full log: {log_file}")
    try:
        with DagsterInstance.get() as instance:
            outcome = runs.execute(
                instance, run_id,
                # Progress lines replace Dagster's debug log; warnings and errors still show.
                {"loggers": {"console": {"config": {"log_level": "WARNING"}}},
                 **(FULL_REFRESH_CONFIG if args.full_refresh else {})},
                log_file,
                on_started=lambda run_id: Progress(instance, run_id, started).__enter__(),
                wait_seconds=args.wait * 60,
            )
            failures = instance.get_records_for_run(
                run_id, of_type=DagsterEventType.STEP_FAILURE, limit=100).records
    except runs.RunInProgress as exc:
        print(f"Not started: {exc}.", file=sys.stderr)
        return 75  # EX_TEMPFAIL: try again later
    except KeyboardInterrupt:  # before the run worker started (afterwards, runs stops it)
        print("\nInterrupted before the run started; nothing was changed.", file=sys.stderr)
        return 128 + signal.SIGINT
    elapsed = time.monotonic() - started
    if not outcome.success:
        return _report_failure(outcome, failures, elapsed)
    print_sources_without_data()  # after a failed run it would claim what did not happen
    print_summary(elapsed, run_id)
    return 0


def _report_failure(outcome: Outcome, failures: Sequence[EventLogRecord],
                    elapsed: float) -> int:
    """Why a run failed, step by step, on stderr; the exit code (128 + signal if interrupted)."""
    if outcome.interrupted:
        print(f"\nThe run was interrupted ({outcome.interrupted}) after {elapsed:.0f} s and "
              "stopped; it is marked failed.", file=sys.stderr)
    else:
        print(f"\nThe run failed after {elapsed:.0f} s ({outcome.message}).", file=sys.stderr)
    for record in failures:
        event = record.event_log_entry.dagster_event
        error = event.step_failure_data.error if event is not None else None
        message = error.message if error is not None else ""
        print(f"  step {event.step_key if event else '?'}: {message.strip()[:600]}",
              file=sys.stderr)
    print(f"The last good publication (if any) is unchanged: {paths.published_db()}",
          file=sys.stderr)
    full = [str(r.event_log_entry) for r in failures
            if disk.says_disk_full(str(r.event_log_entry))]
    if full:
        print(disk.disk_full_message(full[0]), file=sys.stderr)
    return 128 + signal.Signals[outcome.interrupted].value if outcome.interrupted else 1


class Progress:
    """Prints what the run does (stage, rows, elapsed) by following its event log."""

    def __init__(self, instance: DagsterInstance, run_id: str, started: float) -> None:
        self.instance, self.run_id, self.started = instance, run_id, started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._cursor: str | None = None
        self._waits: set[str] = set()
        self.out = sys.stdout  # progress goes to the terminal even while stdout is redirected

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drain()

    def _follow(self) -> None:
        while not self._stop.wait(0.5):
            self._drain()

    def _drain(self) -> None:
        try:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=1000)
        except Exception:  # noqa: BLE001 - progress is best effort, never breaks a run
            return
        self._cursor = conn.cursor
        for record in conn.records:
            event = record.event_log_entry.dagster_event
            shown = self._describe(event) if event is not None else None
            if shown is not None:
                elapsed = time.monotonic() - self.started
                print(f"  [{elapsed:5.0f}s] {shown[0]:<12} {shown[1]}", file=self.out, flush=True)

    def _describe(self, event: DagsterEvent) -> tuple[str, str] | None:
        """(what, line) of the progress line an event is worth, or None."""
        from dagster import DagsterEventType

        steps = {DagsterEventType.STEP_START: "started", DagsterEventType.STEP_SUCCESS: "done",
                 DagsterEventType.STEP_FAILURE: "FAILED"}
        if event.event_type in steps:
            return steps[event.event_type], event.step_key or ""
        handler = {
            DagsterEventType.ENGINE_EVENT: self._waiting,
            DagsterEventType.STEP_UP_FOR_RETRY: _retrying,
            DagsterEventType.ASSET_MATERIALIZATION: _materialised,
            DagsterEventType.ASSET_CHECK_EVALUATION: _check_failed,
        }.get(event.event_type)
        return handler(event) if handler is not None else None

    def _waiting(self, event: DagsterEvent) -> tuple[str, str] | None:
        """Dagster's own words on what a step waits for (a pool slot held by another run), once."""
        message = event.message or ""
        if "blocked" not in message or message in self._waits:
            return None
        self._waits.add(message)
        return "WAITING", f"{event.step_key or ''}: {message}"


def _retrying(event: DagsterEvent) -> tuple[str, str]:
    from orchestration import faults

    retry = event.step_retry_data
    return "WAITING", (f"{event.step_key or ''}: {faults.describe_error(retry.error)}; trying "
                       f"again in {retry.seconds_to_wait or 0:.0f} s")


def _materialised(event: DagsterEvent) -> tuple[str, str] | None:
    if event.step_key and event.step_key.startswith("transform"):
        return None  # dbt models: one line per model would drown the rest
    return "materialised", _materialised_line(event.step_materialization_data.materialization)


def _check_failed(event: DagsterEvent) -> tuple[str, str] | None:
    evaluation = event.asset_check_evaluation_data
    if evaluation.passed:
        return None
    asset = evaluation.asset_key.to_user_string()
    return "CHECK FAILED", f"{asset} {evaluation.check_name} did not pass"


def print_sources_without_data() -> None:
    """One line naming the sources nothing was ever loaded from (every source is optional)."""
    from warehouse import datasets

    empty = [d.removeprefix("raw_").replace("_", "-") for d in datasets.without_data(
        (datasets.CASE_MANAGEMENT, datasets.ACCOUNTING, datasets.REFERENCE))]
    if empty:
        print(f"No data from: {', '.join(empty)} (nothing delivered or loaded yet; "
              "their marts are published empty).")


def print_summary(elapsed: float, run_id: str | None = None) -> None:
    import duckdb

    from warehouse.publish import current_generation_file, current_manifest

    published = paths.published_db()
    manifest = current_manifest() or {}
    if run_id is not None and manifest.get("checked_run_id") == run_id:
        print(f"\nDone in {elapsed:.0f} s. Nothing changed since generation "
              f"{manifest['generation']} (published {str(manifest['published_at'])[:19]}): "
              "checked, unchanged; nothing was rebuilt or published again.")
        return
    print(f"\nDone in {elapsed:.0f} s. Published marts: {published}")
    # The kept generation file, not marts.duckdb: an analyst may hold that one read-write.
    source = current_generation_file() or published
    with duckdb.connect(str(source), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_name not like '\\_%' escape '\\' order by 1"
        ).fetchall()
        for (table,) in tables:
            n = con.execute(f'select count(*) from "{table}"').fetchall()[0][0]
            print(f"  {table:<28} {n:>10,} rows")
    print(
        "\nQuery it (read-only, also during the next refresh): .venv/bin/datenwerk sql, or\n"
        f"  .venv/bin/python -c \"import duckdb; "
        f"print(duckdb.connect('{published}', read_only=True)"
        ".sql('select program_code, year, n_cases_closed, planned_end_rate "
        "from mart_outcomes where period_type = \\'year\\' order by 1, 2'))\"\n"
        "Watch and run the pipeline in the Dagster UI: make dev, then http://127.0.0.1:3000"
    )
    print("\nAlso written:")
    for what, path in (
        ("department exports", paths.exports_dir()),
        ("open data (suppressed, DCAT-AP.de)", paths.open_data_dir()),
        ("data quality (GX Data Docs)", paths.data_docs_dir() / "index.html"),
        ("steward reports (personal data)", paths.reports_dir()),
    ):
        written = path.is_file() or (path.is_dir() and any(path.iterdir()))
        # An organisation without pilot departments or rejected files gets none of these.
        print(f"  {what:<36} {path if written else 'none'}")


def _materialised_line(mat: AssetMaterialization) -> str:
    """An asset and its rows; for a load, the rows it added and the total."""
    rows = mat.metadata.get("dagster/row_count")
    shown = f" ({rows.value:,} rows)" if rows is not None else ""
    if mat.asset_key.path[0].startswith("raw_"):
        added = mat.metadata.get("rows_loaded")
        shown = f" (+{added.value if added else 0:,} rows" + (
            f", {rows.value:,} in all)" if rows is not None else ")")
    return f"{mat.asset_key.to_user_string()}{shown}"


def _generation_line(manifest: dict[str, Any], current: str | None) -> str:
    counts = manifest.get("row_counts") or {}
    checks = manifest.get("checks") or []
    passed = sum(1 for c in checks if c.get("passed"))
    marker = "*" if manifest["generation"] == current else " "
    return (f"{marker} {manifest['generation']:<28} {str(manifest['published_at'])[:19]}  "
            f"run {str(manifest.get('run_id'))[:8]:<8}  {sum(counts.values()):>10,} rows  "
            f"checks {passed}/{len(checks)} passed")


def cmd_rollback(args: argparse.Namespace) -> int:
    """List the kept generations, or make one current again (and re-export departments)."""
    from warehouse.publish import RollbackError, current_manifest, list_generations, rollback

    current = (current_manifest() or {}).get("generation")
    if not args.generation:
        manifests = list_generations()
        if not manifests:
            print(f"No generations in {paths.generations_dir()}: nothing published yet.")
            return 0
        print(f"Generations in {paths.generations_dir()} (* = current, oldest first):")
        for manifest in manifests:
            print(_generation_line(manifest, current))
        print("Restore one: datenwerk rollback GENERATION (or: datenwerk rollback previous)")
        return 0
    # Never under a run: its publication, exports and reports would interleave with these.
    with _between_runs("rollback") as free:
        if not free:
            return 75
        try:
            restored = rollback(args.generation)
        except RollbackError as exc:
            print(f"Rollback refused: {exc}", file=sys.stderr)
            return 1
        return _rewrite_from(restored, current, args.no_exports)


def _rewrite_from(restored: dict[str, Any], current: str | None, no_exports: bool) -> int:
    """After a rollback: say so, and make the reports and department exports from it again."""
    from warehouse.exports import ExportConfigError, export_departments

    print(f"{paths.published_db()} now holds generation {restored['generation']} "
          f"(published {restored['published_at']}, run {restored.get('run_id')}); "
          f"it was {current}.")
    if no_exports:
        return 0
    from warehouse import open_data
    from warehouse.publish import generation_source
    from warehouse.reports import write_reports

    # The public open data too: it counted the cases of the generation just taken back.
    code = 0
    try:
        folder = open_data.publish_from(generation_source(restored, "open data")[1])
        print(f"  open_data rewritten from generation {restored['generation']} ({folder.name})")
    except open_data.OpenDataBlocked as exc:
        print(f"Open data not rewritten: {exc}", file=sys.stderr)
        code = 1
    # the impact reports first: each export's manifest links its department's report
    for report in write_reports(manifest=restored):
        print(f"  {report.html.relative_to(paths.home())} rewritten")
    try:
        # Written again even with the same rows: each names the generation it came from.
        results = export_departments(manifest=restored, rewrite_unchanged=True)
    except ExportConfigError as exc:
        print(f"Department exports not rewritten: {exc}", file=sys.stderr)
        return 1
    for r in results:
        print(f"  exports/{r.department}/{r.date} rewritten from generation {r.generation}")
    return code


DESCRIPTION = """\
Datenwerk loads the case-management and DATEV exports in the inbox, builds the outcome and
impact marts, checks them and publishes them only when every blocking check passes; then it
writes each department's German Excel/CSV export and the impact reports.

Start with `datenwerk demo-data --scale 0.1` and `datenwerk run`; look at the result with
`datenwerk sql`. Everything lives under DATENWERK_HOME (default ./data)."""

EPILOG = "Each command has its own --help, e.g. `datenwerk sql --help`."

def cmd_sql(args: argparse.Namespace) -> int:
    """A read-only SQL shell on the published marts (statements from a terminal or stdin)."""
    from warehouse import shell

    return shell.run(args.generation, args.command_text, args.max_rows)


def cmd_held(args: argparse.Namespace) -> int:
    from warehouse import holds

    current = holds.held()
    if not current:
        print("No loads are held.")
        return 0
    print(f"{len(current)} load(s) held out of staging (a batch check failed):")
    for h in current:
        print(f"  {h.load_id}  {h.dataset}: {', '.join(h.tables)}  held {h.held_at}")
        print(f"      {', '.join(h.checks)}: {h.reason}")
    print(f"Details: the checks' Data Docs under {paths.data_docs_dir()}. Leave a load held and "
          "deliver a corrected file, or `datenwerk release LOAD_ID --reason ...`.")
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from warehouse import holds

    # Never under a run: dbt reads the held loads model by model, so a release halfway through
    # a build would merge a load into some staging models and not into others.
    with _between_runs("release") as free:
        if not free:
            return 75
        try:
            h = holds.release(args.load_id, reason=args.reason)
        except (KeyError, ValueError) as exc:
            print(str(exc).strip("'\""), file=sys.stderr)
            return 1
    print(f"Released load {h.load_id} ({h.dataset}: {', '.join(h.tables)}). The next run "
          "merges it, with a full refresh of the incremental models.")
    return 0


def _add_validate(sub: argparse._SubParsersAction) -> None:
    """The `validate` command's arguments."""
    validate = sub.add_parser(
        "validate", help="check a file (case-management export, DATEV, reference table) "
                         "as the nightly load would read it, without loading it")
    validate.add_argument("file")
    validate.add_argument("--profile", help="export profile name (default: detected from the file)")
    validate.add_argument("--organisation", help="whose export it is: check its programs against "
                          "the organisation's reference data (default: from its inbox folder)")
    validate.add_argument("--department", help="the department folder it would be delivered to")
    validate.add_argument("--lang", choices=("de", "en"),
                          help="language of the report (default: German unless LANG is English)")
    validate.set_defaults(func=cmd_validate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="datenwerk", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write synthetic demo exports into the inbox")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--scale", type=float, default=1.0, help="1 = about 2,000 clients")
    demo.add_argument("--organisations", type=int, default=1, metavar="N",
                      help="exports of N member organisations of a federation "
                           "(needs DATENWERK_FEDERATION=1)")
    demo.add_argument("--increment", type=float, metavar="SHARE",
                      help="instead: a later delivery of SHARE more contacts (0.01 = +1 %%) "
                           "in new files, for the demo already in the inbox")
    demo.set_defaults(func=cmd_demo_data)

    run = sub.add_parser("run", help="load, transform, check and publish everything now")
    run.add_argument("--demo-if-empty", action="store_true",
                     help="make demo data if the inbox is empty")
    run.add_argument("--scale", type=float, default=1.0, help="scale of demo data, if made")
    run.add_argument("--full-refresh", action="store_true",
                     help="rebuild incremental models (contacts, bookings) from all loads, "
                     "even when nothing changed")
    run.add_argument("--wait", type=float, default=0.0, metavar="MINUTES",
                     help="if another run is in progress, wait up to MINUTES for it (saying what "
                          "it waits for) instead of refusing at once")
    run.set_defaults(func=cmd_run)

    held = sub.add_parser("held", help="list loads held out of staging by a failed batch check")
    held.set_defaults(func=cmd_held)
    release = sub.add_parser("release", help="release a held load: the next run merges it")
    release.add_argument("load_id")
    release.add_argument("--reason", required=True, help="why the batch may be merged after all")
    release.set_defaults(func=cmd_release)

    _add_validate(sub)

    std = sub.add_parser("standard", help="print the data standard as a Markdown document")
    std.set_defaults(func=cmd_standard)

    init_org = sub.add_parser(
        "init-org", help="prepare the inbox of a new organisation, with reference templates")
    init_org.add_argument("organisation", help="organisation code, e.g. caritas-nord")
    init_org.set_defaults(func=cmd_init_org)

    key = sub.add_parser("init-key", help="create the pseudonymisation key file if missing")
    key.set_defaults(func=cmd_init_key)
    rotate = sub.add_parser(
        "rotate-key", help="replace the pseudonymisation key and reload the inbox under it")
    rotate.add_argument("--yes", action="store_true", help="really drop the data of the old key")
    rotate.set_defaults(func=cmd_rotate_key)

    erase_cmd = sub.add_parser(
        "erase", help="erase one client (GDPR Art. 17 request, or deleted in the source "
                      "system) from the warehouse, kept publications and department exports")
    erase_cmd.add_argument("--folder", required=True, metavar="ORG/DEPARTMENT_FOLDER",
                           help="the case-management inbox folder the client's exports arrive "
                                "in, e.g. swm/SB: numbers are unique per folder")
    erase_cmd.add_argument("--client", required=True, metavar="NUMBER",
                           help="the client's number in the case-management system; '-' reads "
                                "it from standard input (not in the shell history)")
    erase_cmd.add_argument("--reason", required=True,
                           help="who asked and why (e.g. 'Art. 17 request of 2026-11-28, "
                                "steward K. Muster'); kept in the register; never the number")
    erase_cmd.set_defaults(func=cmd_erase)

    rollback = sub.add_parser(
        "rollback", help="list the kept publications, or make one current again")
    rollback.add_argument("generation", nargs="?",
                          help="generation to restore (as listed), or 'previous'")
    rollback.add_argument("--no-exports", action="store_true",
                          help="do not rewrite the open data, impact reports and department "
                               "exports from it")
    rollback.set_defaults(func=cmd_rollback)

    sql = sub.add_parser("sql", help="read-only SQL shell on the published marts")
    sql.add_argument("-c", dest="command_text", metavar="SQL", help="run these statements and exit")
    sql.add_argument("--generation", help="open a kept generation instead of the current file")
    sql.add_argument("--max-rows", type=int, default=40, help="rows shown per result (default 40)")
    sql.set_defaults(func=cmd_sql)

    return _dispatch(parser.parse_args(argv))


def _dispatch(args: argparse.Namespace) -> int:
    """Run the command; an unusable home or a full disk ends it in one line."""
    try:
        if args.command not in ("standard", "validate"):  # these two work without a home
            paths.check_home()
        return int(args.func(args))
    except paths.UnusableHomeError as exc:
        print(f"Stopped: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not disk.is_disk_full(exc):
            raise
        print(f"\nStopped: {disk.disk_full_message(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
