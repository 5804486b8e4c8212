"""The ``datenwerk`` command: demo data, a full pipeline run, key set-up.

This is the user-facing front door (``make run`` calls it), so it prints; everything else logs.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Self

from warehouse import paths, settings

if TYPE_CHECKING:
    from dagster import DagsterInstance

DAGSTER_YAML = """\
# Written by datenwerk. One run at a time: DuckDB allows one writing process per file.
concurrency:
  runs:
    max_concurrent_runs: 1
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home() -> Path:
    """DAGSTER_HOME under DATENWERK_HOME (unless set), with the one-run-at-a-time settings."""
    home = Path(os.environ.get("DAGSTER_HOME") or paths.dagster_home())
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def inbox_is_empty() -> bool:
    inbox = paths.inbox()
    return not inbox.exists() or not any(p.is_file() for p in inbox.rglob("*"))


def cmd_demo_data(args: argparse.Namespace) -> int:
    from ingestion.demo.generator import generate
    from ingestion.pseudonymise import ensure_key_file

    started = time.monotonic()
    counts = generate(paths.inbox(), paths.demo_truth(), seed=args.seed, scale=args.scale)
    ensure_key_file()
    print(f"Demo exports written to {paths.inbox()} in {time.monotonic() - started:.1f} s:")
    for entity, n in counts.items():
        print(f"  {entity:<12} {n:>10,}")
    print(f"Ground truth for tests: {paths.demo_truth()}")
    return 0


def cmd_init_key(args: argparse.Namespace) -> int:
    from ingestion.pseudonymise import ensure_key_file, key_path

    existed = key_path().exists() or settings.pseudonym_key_from_env()
    path = ensure_key_file()
    print(("Key already present: " if existed else "Created pseudonymisation key: ") + str(path))
    print("Back it up outside the repository; without it, later loads cannot be linked.")
    return 0


def cmd_standard(args: argparse.Namespace) -> int:
    from ingestion.standard import render_markdown

    print(render_markdown(), end="")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Check an export against its profile without loading anything; non-zero if rows fail."""
    import secrets

    from ingestion.case_management import detect_profile
    from ingestion.case_management.helpers import parse_export
    from ingestion.delivery import FileOutcome, FileRejected, sha256_of
    from ingestion.reports import summary_lines
    from ingestion.standard import profiles, standard

    path = Path(args.file)
    if not path.is_file():
        print(f"No such file: {path}", file=sys.stderr)
        return 2
    outcome = FileOutcome(path, sha256_of(path), "-", entity="unknown", profile="unknown")
    try:
        if args.profile:
            if args.profile not in profiles():
                raise FileRejected(path, f"unknown profile '{args.profile}'; known: {', '.join(sorted(profiles()))}")
            profile = profiles()[args.profile]
            mapping = profile.entity_for(path.name)
            if mapping is None:
                raise FileRejected(path, f"profile {profile.name} has no entity whose file pattern matches this name")
        else:
            profile, mapping = detect_profile(path)
        outcome.entity, outcome.profile = mapping.entity, profile.name
        # A throwaway key: validation needs no stable pseudonyms and must not need the real key.
        parse_export(path, profile, mapping, standard()[mapping.entity], outcome,
                     {"organisation_code": "-", "department_code": "-"}, key=secrets.token_bytes(32))
    except FileRejected as exc:
        outcome.rejected_reason = exc.reason
    print("\n".join(summary_lines(outcome)))
    return 1 if outcome.rejected_reason or outcome.quarantine else 0


def cmd_run(args: argparse.Namespace) -> int:
    settings.apply_process_environment()
    prepare_dagster_home()
    if args.demo_if_empty and inbox_is_empty():
        print("The inbox is empty: generating demo data first (datenwerk demo-data).")
        cmd_demo_data(argparse.Namespace(seed=42, scale=args.scale))
    from dagster import DagsterInstance
    from dagster._core.utils import make_new_run_id

    from orchestration.definitions import defs

    started = time.monotonic()
    print(f"Running nightly_refresh on {paths.home()} ...")
    run_id = make_new_run_id()
    log_file = paths.logs_dir() / f"run-{run_id}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"Full log: {log_file}")
    with DagsterInstance.get() as instance, log_file.open("w") as log:
        # dbt's own output (re-emitted by dagster-dbt on stdout) goes to the log file.
        with Progress(instance, run_id, started), contextlib.redirect_stdout(log):
            result = defs.resolve_job_def("nightly_refresh").execute_in_process(
                instance=instance,
                run_id=run_id,
                raise_on_error=False,
                # Progress lines replace Dagster's debug log; warnings and errors still show.
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
    elapsed = time.monotonic() - started
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        print(f"\nThe run failed after {elapsed:.0f} s.", file=sys.stderr)
        for event in failed:
            message = event.step_failure_data.error.message if event.step_failure_data.error else ""
            print(f"  step {event.step_key}: {message.strip()[:600]}", file=sys.stderr)
        print(f"The last good publication (if any) is unchanged: {paths.published_db()}",
              file=sys.stderr)
        return 1
    print_summary(elapsed)
    return 0


class Progress:
    """Prints what the run does (stage, rows, elapsed) by following its event log."""

    def __init__(self, instance: DagsterInstance, run_id: str, started: float) -> None:
        self.instance, self.run_id, self.started = instance, run_id, started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._cursor: str | None = None
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
        from dagster import DagsterEventType

        interesting = {
            DagsterEventType.STEP_START: "started",
            DagsterEventType.STEP_SUCCESS: "done",
            DagsterEventType.STEP_FAILURE: "FAILED",
            DagsterEventType.ASSET_MATERIALIZATION: "materialised",
            DagsterEventType.ASSET_CHECK_EVALUATION: "check",
        }
        try:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor, limit=1000)
        except Exception:  # noqa: BLE001 - progress is best effort, never breaks a run
            return
        self._cursor = conn.cursor
        for record in conn.records:
            event = record.event_log_entry.dagster_event
            if event is None or event.event_type not in interesting:
                continue
            elapsed = time.monotonic() - self.started
            what = interesting[event.event_type]
            if event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
                mat = event.step_materialization_data.materialization
                rows = mat.metadata.get("dagster/row_count")
                shown = f" ({rows.value:,} rows)" if rows is not None else ""
                if mat.asset_key.path[0].startswith("raw_"):  # a load: what it added, and the total
                    added = mat.metadata.get("rows_loaded")
                    shown = f" (+{added.value if added else 0:,} rows" + (
                        f", {rows.value:,} in all)" if rows is not None else ")")
                if event.step_key and event.step_key.startswith("transform"):
                    continue  # dbt models: one line per model would drown the rest
                line = f"{mat.asset_key.to_user_string()}{shown}"
            elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                ev = event.event_specific_data
                if ev.passed:
                    continue
                line = f"{ev.asset_key.to_user_string()} {ev.check_name} did not pass"
                what = "CHECK FAILED"
            else:
                line = event.step_key or ""
            print(f"  [{elapsed:5.0f}s] {what:<12} {line}", file=self.out, flush=True)


def print_summary(elapsed: float) -> None:
    import duckdb

    published = paths.published_db()
    print(f"\nDone in {elapsed:.0f} s. Published marts: {published}")
    with duckdb.connect(str(published), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_name not like '\\_%' escape '\\' order by 1"
        ).fetchall()
        for (table,) in tables:
            n = con.execute(f'select count(*) from "{table}"').fetchall()[0][0]
            print(f"  {table:<28} {n:>10,} rows")
    print(
        "\nQuery it (read-only, also during the next refresh):\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{published}', read_only=True)"
        ".sql('select program_code, year, cases_closed, planned_end_rate "
        "from mart_outcomes_by_program order by 1, 2'))\"\n"
        "Watch and run the pipeline in the Dagster UI: make dev, then http://127.0.0.1:3000"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="datenwerk", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo-data", help="write synthetic demo exports into the inbox")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--scale", type=float, default=1.0, help="1 = about 2,000 clients")
    demo.set_defaults(func=cmd_demo_data)

    run = sub.add_parser("run", help="load, transform, check and publish everything now")
    run.add_argument("--demo-if-empty", action="store_true", help="make demo data if the inbox is empty")
    run.add_argument("--scale", type=float, default=1.0, help="scale of demo data, if made")
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check an export file without loading it")
    validate.add_argument("file")
    validate.add_argument("--profile", help="export profile name (default: detected from the file)")
    validate.set_defaults(func=cmd_validate)

    std = sub.add_parser("standard", help="print the data standard as a Markdown document")
    std.set_defaults(func=cmd_standard)

    key = sub.add_parser("init-key", help="create the pseudonymisation key file if missing")
    key.set_defaults(func=cmd_init_key)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
