"""Real deliveries go wrong: bad rows, broken files, the same file twice, corrections, and a
load killed half-way. Nothing is lost, nothing is counted twice, marts see only complete loads."""

from __future__ import annotations

import shutil
import stat

import duckdb

from tests.conftest import PipelineRun, copy_home, run_nightly, staged_id


def query(db, sql: str, params=None):  # type: ignore[no-untyped-def]
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def marts_and_their_sources(*marts: str) -> list:
    """Asset keys: the marts, everything upstream of them (whole load steps: a dlt load writes
    all its tables and its file registry) and published_marts."""
    from dagster import AssetKey, AssetSelection

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    needed = AssetSelection.assets(*(AssetKey([m]) for m in marts)).upstream().resolve(graph)
    datasets = {k.path[0] for k in needed if k.path[0].startswith("raw_")}
    loads = {k for k in graph.get_all_asset_keys() if k.path[0] in datasets}
    return sorted(needed | loads | {AssetKey(["published_marts"])}, key=str)


def test_bad_rows_broken_files_duplicates_and_corrections(small_first_run: PipelineRun) -> None:
    home = copy_home(small_first_run.home, "bad-deliveries")
    sb = home / "inbox" / "case_management" / "swm" / "SB"
    original = (sb / "faelle.csv").read_bytes().decode("cp1252").split("\r\n")
    header, first, second, unchanged = original[0], original[1], original[2], original[3:12]
    case_id = first.split(";")[0]
    # 1. a corrected re-delivery of one case (new end reason), plus a row with an impossible date
    corrected = first.rsplit(";", 2)
    corrected[1] = "Umzug"
    bad = second.split(";")
    bad[0], bad[4] = "F-9999999", "31.02.2024"
    (sb / "faelle_korrektur.csv").write_bytes(
        "\r\n".join([header, ";".join(corrected), ";".join(bad), *unchanged, ""]).encode("cp1252")
    )
    # 2. the same bytes as an already loaded file, under another name
    shutil.copy(sb / "kontakte.csv", sb / "kontakte_nochmal.csv")
    # 3. binary garbage
    (sb / "klienten_kaputt.csv").write_bytes(bytes(range(256)) * 8)
    # 4. a file still being written
    (sb / "ziele_neu.csv.part").write_bytes(b"Ziel-Nr;Fall-Nr\r\n")

    result = run_nightly(home)
    assert result.success

    build = home / "warehouse" / "build.duckdb"
    q = query(build, "select source_file, source_line, field, reason, offending_value, "
                     "_dlt_load_id from raw_case_management.quarantine "
                     "where source_file like '%korrektur%'")
    assert [(r[1], r[2], r[4]) for r in q] == [(3, "start_date", "31.02.2024")]
    assert q[0][5] is not None  # carries its load id
    # the correction won, without a duplicate
    cases = query(home / "published" / "marts.duckdb",
                  "select end_reason, count(*) over () from fct_cases where case_id = ?",
                  [staged_id(home, "SB", case_id)])
    assert cases[0][0] == "moved"
    assert query(home / "published" / "marts.duckdb",
                 "select count(*) - count(distinct case_id) from fct_cases") == [(0,)]
    # the same bytes again loaded nothing: still one loaded registry row per sha256, and the copy
    # is registered as delivered again, naming the file it repeats
    assert query(build, "select count(*) - count(distinct source_sha256) "
                        "from raw_case_management.file_registry "
                        "where outcome != 'repeated'") == [(0,)]
    [(outcome, rows, message)] = query(
        build, "select outcome, rows_loaded, message from raw_case_management.file_registry "
               "where source_file like '%kontakte_nochmal%'")
    assert (outcome, rows) == ("repeated", 0) and "case_management/swm/SB/kontakte.csv" in message
    # the broken file: rejected whole, moved with its reason into the protected folder
    rejected_sb = home / "protected" / "rejected" / "case_management" / "swm" / "SB"
    rejected = rejected_sb / "klienten_kaputt.csv"
    assert rejected.exists() and not (sb / "klienten_kaputt.csv").exists()
    assert "Grund: Binärdaten" in rejected.with_name(rejected.name + ".reason.txt").read_text(
        encoding="utf-8")
    assert stat.S_IMODE((home / "protected").stat().st_mode) == 0o700
    outcome = query(build, "select outcome, message from raw_case_management.file_registry "
                           "where source_file like '%klienten_kaputt%'")
    assert outcome[0][0] == "rejected" and "binary" in outcome[0][1]
    # the steward's report names the row, field and reason
    reports = list((home / "protected" / "reports").rglob("faelle_korrektur.csv.*.html"))
    assert reports
    assert "31.02.2024" in reports[0].read_text() and "start_date" in reports[0].read_text()
    # the file still being written was left alone
    assert (sb / "ziele_neu.csv.part").exists()
    assert not query(build, "select 1 from raw_case_management.file_registry "
                            "where source_file like '%ziele_neu%'")
    # every file reconciles: read = loaded + quarantined
    assert query(home / "published" / "marts.duckdb",
                 "select count(*) from mart_deliveries where not is_reconciled") == [(0,)]


def test_rows_of_a_killed_load_never_reach_a_mart(small_first_run: PipelineRun) -> None:
    """dlt writes rows before it records the load in _dlt_loads: a kill in between leaves rows
    whose load id is unknown. Staging must not read them; the file must load again."""
    home = copy_home(small_first_run.home, "killed-load")
    build = home / "warehouse" / "build.duckdb"
    marts_before = query(home / "published" / "marts.duckdb",
                         "select * from mart_outcomes order by all")
    with duckdb.connect(str(build)) as con:
        con.execute("""
            insert into raw_case_management.cases
            select * replace ('9999999999.0' as _dlt_load_id, case_id || '-ghost' as case_id)
            from raw_case_management.cases limit 50
        """)
        con.execute("""
            insert into raw_case_management.file_registry
            select * replace ('9999999999.0' as _dlt_load_id, 'ghost' as source_sha256)
            from raw_case_management.file_registry limit 1
        """)

    # The loads and models the two marts below are built from, and publication (the rest of the
    # job does not read the raw case tables' rows again; the gate judges the run's selection).
    result = run_nightly(
        home, asset_selection=marts_and_their_sources("mart_outcomes", "fct_cases")
    )

    assert result.success
    assert query(home / "published" / "marts.duckdb",
                 "select * from mart_outcomes order by all") == marts_before
    assert query(home / "published" / "marts.duckdb",
                 "select count(*) from fct_cases where case_id like '%-ghost'") == [(0,)]
    from ingestion.delivery import loaded_hashes

    assert "ghost" not in loaded_hashes("raw_case_management")


def test_missing_key_fails_before_anything_is_written(small_demo_home) -> None:  # type: ignore[no-untyped-def]
    """Production mode: no key, no load. The error names the variable; no table is written."""
    home = copy_home(small_demo_home, "no-key")
    shutil.rmtree(home / "secrets")
    result = run_nightly(home)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    assert "DATENWERK_PSEUDONYM_KEY" in str(error.cause or error)
    build = home / "warehouse" / "build.duckdb"
    tables = query(build, "select table_schema from information_schema.tables "
                          "where table_schema like 'raw_%'") if build.exists() else []
    assert tables == []
    assert not (home / "published" / "marts.duckdb").exists()
