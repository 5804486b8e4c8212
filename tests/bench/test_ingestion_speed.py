"""Issue 3's speed target: ingesting a 10M-contact export (parse, map, validate, pseudonymise,
load through dlt) against DuckDB's own read_csv of the same file into a table.

Target: ratio <= 2.0, peak memory <= 2 GB. Every side runs in a fresh process, one after the
other, on the same file; DuckDB's read_csv runs three times and its median counts, so that one
noisy run does not decide. The figures go to bench/results/ingestion_contacts.json, with CPU
seconds (all threads) beside wall seconds and the machine's load average before and after each
side: on a shared machine the CPU ratio is the steadier figure. Two floors are measured in the
same run: DuckDB alone writing the stored columns, and the same with the contact number
pseudonymised per row as the ingestion does it (its pseudonyms are checked to be the stored ones).

Where the time goes (2M contacts, CPU seconds, 2026-11-29, machine shared, load average ~15):
read_csv into a table 1.8. Ours 9.5: extract 7.1 (parse into the check table 1.5, duplicate keys
0.35, case and staff pseudonyms once per distinct value 0.4, writing the accepted rows as Parquet
4.3, of which ~2.6 the HMAC of 2M contact numbers in DuckDB's sha256 and ~1 the 32-character
pseudonyms, which compress worse than the source numbers; the rest imports and dlt); load 2.4
(dlt's INSERT ... SELECT FROM read_parquet into build.duckdb). Before the pseudonyms were computed
in SQL, the contact numbers' HMAC in a Python UDF alone cost 5.1, and at 10M contacts writing
the rows with them joined back ran out of DuckDB's 1 GB (main at 66d309f). Writing the rows
into build.duckdb in the same statement instead of Parquet then dlt's import (an ELT step)
measured 1.5 less.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.bench.conftest import record, run_measured

CONTACTS = int(os.environ.get("BENCH_CONTACTS", "10000000"))
TARGET_RATIO = 2.0
BASELINE_RUNS = 3
TARGET_PEAK_MB = 2048


def write_export(path: Path, rows: int) -> None:
    """A demo-vendor contact export (UTF-8, ';', DD.MM.YYYY) written by DuckDB in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(f"""
            copy (
                select
                    'C-' || lpad(i::varchar, 9, '0') as "Kontakt-Nr",
                    'F-' || lpad((i // 12)::varchar, 8, '0') as "Fall-Nr",
                    strftime(date '2023-01-01' + (i % 1095)::int, '%d.%m.%Y') as "Datum",
                    ['persönlich', 'telefonisch', 'online', 'aufsuchend', 'Gruppe'][i % 5 + 1]
                        as "Art",
                    (10 + i % 170)::varchar as "Dauer (Min.)",
                    'MA-' || lpad((i % 400)::varchar, 4, '0') as "Mitarbeiter-Nr",
                    case when i % 7 = 0 then null else 'Gespräch Nr. ' || (i % 9973) end as "Notiz"
                from range({rows}) as t(i)
            ) to '{path}' (header, delimiter ';')
        """)


BASELINE = """
import json, resource, sys, time, duckdb
before = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
with duckdb.connect(sys.argv[1] if len(sys.argv) > 1 else {db!r}) as con:
    con.execute("create table contacts as select * from read_csv({csv!r})")
    rows = con.execute("select count(*) from contacts").fetchall()[0][0]
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(json.dumps({{"seconds": elapsed,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime
                  - before.ru_utime - before.ru_stime,
                  "rows": rows, "peak_rss_mb": int(hwm) / 1024}}))
"""

# The floor of any design that stores the standard's columns: DuckDB alone reading the export
# and writing what a raw contact row holds (typed, mapped, context and lineage columns) into a
# table. No checks, no quarantine, no duplicate keys, no pseudonyms, no dlt. What this costs over
# read_csv is the price of the stored columns themselves.
FLOOR = """
import json, resource, time, duckdb
{setup}
before = resource.getrusage(resource.RUSAGE_SELF)
t = time.perf_counter()
with duckdb.connect({db!r}) as con:
    {prepare}
    con.execute('''
        create table contacts as select
            'bench' as organisation_code, 'SB' as department_code,
            ''' + contact_id + ''' as contact_id, nullif(trim("Fall-Nr"), '') as case_id,
            cast(try_strptime(nullif(trim("Datum"), ''), ['%d.%m.%Y', '%Y-%m-%d']) as date)
                as contact_date,
            case nullif(trim("Art"), '')
                when 'persönlich' then 'in_person' when 'telefonisch' then 'phone'
                when 'online' then 'online' when 'aufsuchend' then 'outreach'
                when 'Gruppe' then 'group'
            end as contact_type,
            try_cast(trim("Dauer (Min.)") as bigint) as duration_minutes,
            md5(nullif(trim("Mitarbeiter-Nr"), '')) as staff_id,
            'case_management/bench/SB/kontakte.csv' as source_file, null::bigint as source_line,
            repeat('a', 64) as source_sha256, '1764000000.123456' as _dlt_load_id
        from read_csv({csv!r}, delim=';', header=true, auto_detect=false, all_varchar=true,
                      columns={{'Kontakt-Nr': 'VARCHAR', 'Fall-Nr': 'VARCHAR', 'Datum': 'VARCHAR',
                               'Art': 'VARCHAR', 'Dauer (Min.)': 'VARCHAR',
                               'Mitarbeiter-Nr': 'VARCHAR', 'Notiz': 'VARCHAR'}})
    ''')
    rows = con.execute("select count(*) from contacts").fetchall()[0][0]
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": elapsed,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime
                  - before.ru_utime - before.ru_stime,
                  "rows": rows}}))
"""

KEY = b"b" * 64  # the key Datenwerk's side is given (DATENWERK_PSEUDONYM_KEY)
FLOOR_PLAIN = {"setup": "contact_id = " + repr("""nullif(trim("Kontakt-Nr"), '')"""),
               "prepare": "pass"}
# The same floor with the one pseudonym no design can compute once per distinct value: every
# contact number is distinct, so its HMAC-SHA256 is paid per row (ingestion's own SQL, its key in
# session variables). Case and staff numbers keep the floor's stand-in: they are hashed once per
# distinct value. What this adds to the floor is the price of pseudonymising the entity key with
# DuckDB's built-in functions, the only ones available here: a native HMAC would be a DuckDB
# extension, and nothing may be downloaded at run time.
FLOOR_PSEUDONYMISED = {
    "setup": "from ingestion.pseudonymise import pseudonym_sql, use_key_in_sql\n"
             "contact_id = pseudonym_sql(" + repr("""nullif("Kontakt-Nr", '')""") + ")",
    "prepare": f"use_key_in_sql(con, {KEY!r})",
}

DATENWERK = """
import json, resource, time
from warehouse import settings
settings.apply_process_environment()
import dlt
from ingestion.case_management import DATASET, case_management
from ingestion.pipelines import pipeline
pipe = pipeline(DATASET)
source = case_management()
# pipe.run's three steps, timed one by one (wall seconds, and CPU seconds of all threads).
def clock():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), usage.ru_utime + usage.ru_stime
steps = {}
t = start = clock()
for name, step in (("extract", lambda: pipe.extract(source)), ("normalize", pipe.normalize),
                   ("load", pipe.load)):
    step()
    now = clock()
    steps[name] = {"seconds": round(now[0] - t[0], 2), "cpu_seconds": round(now[1] - t[1], 2)}
    t = now
elapsed = t[0] - start[0]
import duckdb
from warehouse import paths
with duckdb.connect(str(paths.build_db()), read_only=True) as con:
    rows = con.execute("select count(*) from raw_case_management.contacts").fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from raw_case_management.quarantine"
    ).fetchall()[0][0]
# VmHWM, not ru_maxrss: the latter starts at the forking parent's size (pytest here).
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(json.dumps({"seconds": elapsed, "cpu_seconds": t[1] - start[1], "steps": steps,
                  "rows": rows, "quarantined": quarantined, "peak_rss_mb": int(hwm) / 1024}))
"""


@pytest.mark.bench
def test_contact_ingestion_against_duckdb_read_csv(tmp_path: Path) -> None:
    home = tmp_path / "home"
    export = home / "inbox" / "case_management" / "bench" / "SB" / "kontakte.csv"
    write_export(export, CONTACTS)
    # Case data is loaded only for departments the reference data knows.
    (home / "inbox" / "reference" / "bench").mkdir(parents=True)
    (home / "inbox" / "reference" / "bench" / "departments.csv").write_text(
        "organisation_code,department_code,department_name,data_steward\nbench,SB,Bench,B\n")
    size_mb = export.stat().st_size / 1e6

    load: dict[str, list[float]] = {}

    def measured(name: str, code: str, env: dict[str, str] | None = None) -> dict[str, Any]:
        before = round(os.getloadavg()[0], 2)
        result = run_measured(code, env)
        load[name] = [before, round(os.getloadavg()[0], 2)]
        return result

    baselines = []
    for run in range(BASELINE_RUNS):
        db = tmp_path / f"baseline{run}.duckdb"
        baselines.append(measured(f"duckdb_read_csv_{run + 1}",
                                  BASELINE.format(db=str(db), csv=str(export))))
        db.unlink()
    # The median run by wall seconds, with its own CPU seconds and memory.
    baseline = sorted(baselines, key=lambda b: b["seconds"])[BASELINE_RUNS // 2]
    floor = measured("floor", FLOOR.format(db=str(tmp_path / "floor.duckdb"), csv=str(export),
                                           **FLOOR_PLAIN))
    floor_pseudonymised = measured("floor_pseudonymised", FLOOR.format(
        db=str(tmp_path / "floor_pseudonymised.duckdb"), csv=str(export), **FLOOR_PSEUDONYMISED))
    ours = measured(
        "datenwerk",
        textwrap.dedent(DATENWERK),
        env={"DATENWERK_HOME": str(home), "DATENWERK_PSEUDONYM_KEY": KEY.decode()},
    )

    ratio = ours["seconds"] / baseline["seconds"]
    figures = {
        "contacts": CONTACTS,
        "file_mb": round(size_mb, 1),
        "duckdb_read_csv_seconds": round(baseline["seconds"], 2),
        "duckdb_read_csv_runs_seconds": [round(b["seconds"], 2) for b in baselines],
        "duckdb_read_csv_runs_cpu_seconds": [round(b["cpu_seconds"], 2) for b in baselines],
        "duckdb_read_csv_peak_rss_mb": round(baseline["peak_rss_mb"]),
        "duckdb_read_csv_cpu_seconds": round(baseline["cpu_seconds"], 2),
        "floor_stored_columns_seconds": round(floor["seconds"], 2),
        "floor_stored_columns_cpu_seconds": round(floor["cpu_seconds"], 2),
        "floor_ratio": round(floor["seconds"] / baseline["seconds"], 2),
        "floor_pseudonymised_seconds": round(floor_pseudonymised["seconds"], 2),
        "floor_pseudonymised_cpu_seconds": round(floor_pseudonymised["cpu_seconds"], 2),
        "floor_pseudonymised_ratio": round(floor_pseudonymised["seconds"] / baseline["seconds"], 2),
        "floor_pseudonymised_cpu_ratio": round(
            floor_pseudonymised["cpu_seconds"] / baseline["cpu_seconds"], 2),
        "datenwerk_ingestion_seconds": round(ours["seconds"], 2),
        "datenwerk_ingestion_cpu_seconds": round(ours["cpu_seconds"], 2),
        "datenwerk_steps": ours["steps"],
        "datenwerk_ingestion_peak_rss_mb": round(ours["peak_rss_mb"]),
        "ratio": round(ratio, 2),
        # CPU time (all threads) is less sensitive to other load on a shared machine.
        "cpu_ratio": round(ours["cpu_seconds"] / baseline["cpu_seconds"], 2),
        # 1-minute load average before and after each side: other work on the shared machine.
        "load_average_1min": load,
        "target_ratio": TARGET_RATIO,
        "target_peak_mb": TARGET_PEAK_MB,
        "ratio_met": ratio <= TARGET_RATIO,
        "memory_met": ours["peak_rss_mb"] <= TARGET_PEAK_MB,
    }
    record("ingestion_contacts", figures)
    assert ours["rows"] + ours["quarantined"] == baseline["rows"] == floor["rows"] == CONTACTS
    # The floor's pseudonyms are the ones the ingestion stored, row for row.
    with duckdb.connect(str(tmp_path / "floor_pseudonymised.duckdb"), read_only=True) as con:
        con.execute(f"attach '{home / 'warehouse' / 'build.duckdb'}' as built (read_only)")
        same = con.execute("select count(*) from contacts join built.raw_case_management.contacts "
                           "using (contact_id)").fetchall()[0][0]
    assert same == ours["rows"]
    print(json.dumps(figures, indent=2))
