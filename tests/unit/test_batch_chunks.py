"""Batch suites validated a chunk at a time give the result GX gives on the whole batch.

A real build.duckdb holds a batch of cases whose failing rows sit on both sides of chunk
boundaries: duplicate keys whose rows fall into different chunks, bad codes, a missing required
value, an end before its start, identifiers that are no pseudonyms, and a load dlt did not
complete. Chunks of 7 rows and key parts of 10 force many parts out of 60 rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from ingestion.standard import standard
from quality import batches, gx

OK = "0123456789abcdef0123456789abcdef"
ROWS = 60


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    build = tmp_path / "warehouse" / "build.duckdb"
    build.parent.mkdir(parents=True)
    with duckdb.connect(str(build)) as con:
        con.execute("create schema raw_case_management")
        con.execute("create table raw_case_management._dlt_loads as select * from (values "
                    "('1.1', 0), ('1.2', 0), ('1.3', 1)) as t(load_id, status)")
        con.execute(f"""
            create table raw_case_management.cases as
            select
                'swm' as organisation_code, 'SB' as department_code,
                case when i < 40 then 'aaaa' else 'bbbb' end as source_sha256,
                case when i = 33 then 10 else i + 2 end as source_line,
                -- case numbers arrive pseudonymised, as every source-system number does
                md5(case when i in (5, 35) then 'F-dup' when i = 52 then 'F-0045'
                         else 'F-' || lpad(i::varchar, 4, '0') end) as case_id,
                case when i in (8, 9, 46) then 'K-00' || i else '{OK}' end as client_id,
                case when i in (13, 14) then null else 'P' end as program_code,
                null::varchar as referral_source,
                date '2024-01-01' + i::int as start_date,
                case when i in (6, 7, 44) then date '2023-01-01'
                     when i % 3 = 0 then null else date '2024-06-01' end as end_date,
                case when i in (3, 17, 18, 40, 41, 42, 55) then 'eloped' || (i % 2)
                     when i % 4 = 0 then null else 'planned' end as end_reason,
                '{OK}' as caseworker_id,
                null::bigint as contacts_total,
                null::bigint as contact_minutes_total,
                null::varchar as problem_area,
                null::varchar as problem_area_result,
                case when i < 30 then '1.1' when i < 55 then '1.2' else '1.3' end as _dlt_load_id
            from range({ROWS}) as r(i)
        """)
    return tmp_path


def whole_batch() -> pd.DataFrame:
    """The completed rows at once, indexed by row id, as the chunks are."""
    with duckdb.connect(str(batches.paths.build_db()), read_only=True) as con:
        frame = con.execute("select rowid as r, * from raw_case_management.cases "
                            "where _dlt_load_id in ('1.1', '1.2')").df()
    return frame.set_index("r").rename_axis(None)


def stored(run_name: str, suite: str) -> dict[str, Any]:
    """The GX result stored for ``suite`` in ``run_name``, as JSON."""
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    key = tuple(gx.results_of_run(run_name)[suite]["key"])
    result = gx.context().validation_results_store.get(ValidationResultIdentifier.from_tuple(key))
    return json.loads(json.dumps(result.to_json_dict(), default=str))


def comparable(result: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    return [(r["expectation_config"]["type"], r["success"], r["result"])
            for r in result["results"]]


def test_chunks_split_failing_rows_and_keys(home: Path) -> None:
    batch = batches.read_batch("raw_case_management", "cases", ["1.1", "1.2", "1.3", "9.9"])
    assert batch.rows == 55 and batch.completed_loads == ["1.1", "1.2"]
    chunks = list(batch.chunks(7))
    assert [len(c) for c in chunks] == [7] * 7 + [6]
    assert pd.concat(chunks).equals(whole_batch())
    parts = list(batch.key_parts(["source_sha256", "case_id"], 10))
    assert len(parts) == 6 and sum(len(p) for p in parts) == 55
    for part in parts:  # equal keys meet in one part
        others = pd.concat([p for p in parts if p is not part])
        keys = set(zip(part["source_sha256"], part["case_id"], strict=True))
        assert not keys & set(zip(others["source_sha256"], others["case_id"], strict=True))


def test_validation_in_chunks_equals_validation_of_the_whole(home: Path) -> None:
    spec = standard()["cases"]
    batch = batches.read_batch("raw_case_management", "cases", ["1.1", "1.2"])
    whole = whole_batch()
    everything = set(whole.columns)  # samples of every column, to compare them too

    at_once = gx.run_suite(batches.entity_suite(spec, "gx_batch_cases"), whole,
                           asset_name="cases", run_name="whole", showable=everything)
    in_parts = gx.run_suite_in_parts(
        batches.entity_suite(spec, "gx_batch_cases"), batch.chunks(7),
        lambda columns: batch.key_parts(columns, 10),
        asset_name="cases", run_name="parts", showable=everything)

    assert not at_once.success
    assert (in_parts.success, in_parts.rows, in_parts.evaluated, in_parts.failed) == (
        at_once.success, at_once.rows, at_once.evaluated, at_once.failed)
    failed = {",".join(f["columns"]): f["unexpected_count"] for f in in_parts.failed}
    assert failed == {"source_sha256,source_line": 2, "source_sha256,case_id": 4,
                      "client_id": 3, "program_code": 2, "end_date,start_date": 3,
                      "end_reason": 6}
    whole_result = stored("whole", "gx_batch_cases")
    parts_result = stored("parts", "gx_batch_cases")
    assert comparable(parts_result) == comparable(whole_result)
    assert parts_result["statistics"] == whole_result["statistics"]
    assert parts_result["success"] is False


def test_validate_batch_reads_in_chunks(home: Path) -> None:
    whole = whole_batch()
    spec = standard()["cases"]
    codes = [f.name for f in spec.fields.values() if f.codes]
    expected = gx.run_suite(batches.entity_suite(spec, "gx_batch_cases"), whole,
                            asset_name="raw_case_management.cases", run_name="whole",
                            showable=gx.showable_columns(whole, codes))
    result = batches.validate_batch("raw_case_management", "cases", ["1.1", "1.2", "1.3"],
                                    run_name="chunked", chunk_rows=4, key_part_rows=8)
    assert (result.success, result.rows, result.failed) == (
        expected.success, expected.rows, expected.failed)
    assert "not validated, not completed in _dlt_loads: 1.3" in result.summary()
    end_reason = next(f for f in result.failed if f["columns"] == ["end_reason"])
    assert end_reason["sample_values"] == ["eloped1", "eloped1", "eloped0", "eloped0", "eloped1"]
    assert stored("chunked", "gx_batch_cases")["results"]


def test_an_aggregate_expectation_is_refused_in_parts(home: Path) -> None:
    import great_expectations as gxe

    suite = gx.new_suite("gx_batch_mean")
    suite.add_expectation(gxe.expectations.ExpectColumnMeanToBeBetween(
        column="source_line", min_value=0))
    batch = batches.read_batch("raw_case_management", "cases", ["1.1"])
    with pytest.raises(ValueError, match="cannot be validated in parts"):
        gx.run_suite_in_parts(suite, batch.chunks(7), batch.key_parts,
                              asset_name="cases", run_name="x")


def test_validated_frames_are_not_kept_after_the_suite(home: Path) -> None:
    """GX caches the last batch of every asset; a mart's whole frame or a batch's last chunk
    must not stay in the run worker once its suite has run."""
    import gc
    import weakref

    spec = standard()["cases"]
    batch = batches.read_batch("raw_case_management", "cases", ["1.1", "1.2"])
    whole = whole_batch()
    seen = [weakref.ref(whole)]

    def watched(frames: Any) -> Any:
        for frame in frames:
            seen.append(weakref.ref(frame))
            yield frame

    gx.run_suite(batches.entity_suite(spec, "gx_batch_cases"), whole, asset_name="cases",
                 run_name="whole")
    gx.run_suite_in_parts(batches.entity_suite(spec, "gx_batch_cases"), watched(batch.chunks(7)),
                          lambda columns: watched(batch.key_parts(columns, 10)),
                          asset_name="cases_in_parts", run_name="parts")
    del whole
    gc.collect()
    assert len(seen) == 1 + 8 + 12  # the whole, 8 chunks, 6 key parts for each of 2 keys
    assert [ref for ref in seen if ref() is not None] == []


def narrowed_and_every_row(table: str, monkeypatch: pytest.MonkeyPatch
                           ) -> tuple[Any, Any, int]:
    """The batch validated as it is in a run (GX sees the rows SQL flags and the first 2) and
    with GX on every row; and how many rows GX saw in the first."""
    monkeypatch.setattr(batches, "SAMPLE_ROWS", 2)
    batch = batches.read_batch("raw_case_management", table, ["1.1", "1.2", "1.3"])
    narrowing = batch.narrowing(batches.entity_suite(standard()[table], "x").expectations)
    assert narrowing is not None
    seen = sum(len(c) for c in batch.chunks(1000, narrowing.rows))
    every = batches.validate_batch("raw_case_management", table, ["1.1", "1.2", "1.3"],
                                   run_name="every", chunk_rows=7, key_part_rows=10,
                                   narrow=False)
    narrowed = batches.validate_batch("raw_case_management", table, ["1.1", "1.2", "1.3"],
                                      run_name="narrowed", chunk_rows=7, key_part_rows=10)
    return narrowed, every, seen


def assert_same_results(narrowed: Any, every: Any, suite: str) -> None:
    assert (narrowed.success, narrowed.rows, narrowed.evaluated, narrowed.failed) == (
        every.success, every.rows, every.evaluated, every.failed)
    narrowed_result, every_result = stored("narrowed", suite), stored("every", suite)
    assert comparable(narrowed_result) == comparable(every_result)
    assert narrowed_result["statistics"] == every_result["statistics"]


def test_gx_sees_only_the_rows_sql_flags_and_finds_what_it_finds_in_every_row(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    narrowed, every, seen = narrowed_and_every_row("cases", monkeypatch)
    assert not every.success and every.rows == 55
    assert_same_results(narrowed, every, "gx_batch_cases")
    assert seen < 30  # of 55: the flagged rows and the first two
    assert f"GX validated {seen} of 55 rows one by one" in narrowed.summary()


@pytest.fixture()
def assessments(home: Path) -> Path:
    """Scores as doubles, with what pandas and DuckDB read differently: NaN (missing to GX, a
    number to DuckDB), values on the scale's bounds, a missing bound, keys repeated and keys
    missing altogether, and a pseudonym with a line break after it."""
    with duckdb.connect(str(batches.paths.build_db())) as con:
        con.execute(f"""
            create table raw_case_management.assessments as
            select
                'swm' as organisation_code, 'SB' as department_code,
                case when i in (20, 21) then null else md5('A-' || (i % 37)) end
                    as assessment_id,
                case when i = 11 then '{OK}' || chr(10) when i = 12 then 'F-12'
                     else md5('F-' || (i // 3)) end as case_id,
                case when i = 14 then 'xyz' else 'gas' end as instrument,
                'behaviour' as dimension,
                case when i = 16 then 'start' when i % 2 = 0 then 'intake' else 'exit' end as phase,
                case when i = 15 then null else date '2024-01-01' + i::int end as assessment_date,
                case when i = 3 then 'NaN'::double when i = 4 then 1.0 when i = 5 then 5.0
                     when i = 6 then 0.5 when i = 7 then 7.25 when i = 8 then null
                     else 1 + i % 5 end::double as score,
                case when i = 9 then null when i = 10 then 'NaN'::double else 1.0 end
                    as scale_min,
                5.0::double as scale_max,
                'cccc' as source_sha256,
                case when i = 30 then 29 else i + 2 end as source_line,
                case when i < 40 then '1.1' when i < 50 then '1.2' else '1.3' end
                    as _dlt_load_id
            from range(55) as r(i)
        """)
    return home


def test_narrowed_assessments_equal_gx_on_every_row(
        assessments: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    narrowed, every, seen = narrowed_and_every_row("assessments", monkeypatch)
    assert not every.success and every.rows == 50
    failed = {",".join(f["columns"]): f["unexpected_count"] for f in every.failed}
    assert {"source_sha256,source_line", "case_id", "score,scale_min"} <= set(failed)
    assert_same_results(narrowed, every, "gx_batch_assessments")
    assert seen < 50


def test_a_mart_validated_as_stored_equals_gx_on_the_whole_frame(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mart checks read the mart where it is stored: GX sees the rows SQL flags; the
    result is the one GX gives on the whole mart as a frame."""
    from quality import suites
    from warehouse.marts import MartRules

    with duckdb.connect(str(batches.paths.build_db())) as con:
        con.execute("create schema marts")
        con.execute("""
            create table marts.mart_probe as
            select
                'swm' as organisation_code,
                case when i in (4, 9) then 'P1' when i = 12 then null
                     else 'P' || i end as program_code,
                2020 + i % 6 + case when i = 7 then 200 else 0 end as year,
                case when i = 3 then 'NaN'::double when i = 5 then 1.0 when i = 6 then 1.5
                     when i = 8 then null else (i % 10) / 10 end as share_improved,
                case when i = 10 then -1 else i end as n_cases,
                (case when i = 11 then -0.5 else i * 1.25 end)::decimal(10, 2) as costs_eur,
                case when i = 13 then null else i % 2 = 0 end as is_funded,
                case when i = 14 then 'x' else 'gas' end as instrument,
                case when i = 15 then 3 else i % 2 end as level
            from range(40) as r(i)
        """)
    spec = suites.MartSpec(
        "mart_probe", keys=(("organisation_code", "program_code"),),
        accepted_values={"instrument": ("gas", "ors")},
        rules=MartRules(in_set={"level": (0, 1)}, between={"n_cases": (0, 30)}))
    monkeypatch.setattr(batches, "SAMPLE_ROWS", 2)
    suite, _ = suites.build_suite("mart_probe", list(suites.read_mart("mart_probe").columns), spec)
    table = batches.whole_table("marts", "mart_probe")
    assert table is not None and table.narrowing(suite.expectations) is not None
    every = suites.validate("mart_probe", suites.read_mart("mart_probe"), run_name="every",
                            spec=spec)
    opened: list[str] = []
    connect = duckdb.connect

    def counted(database: str = ":memory:", *args: object, **kwargs: object) -> object:
        opened.append(str(database))
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counted)
    stored_mart = suites.validate_stored("mart_probe", run_name="narrowed", spec=spec)
    monkeypatch.setattr(duckdb, "connect", connect)
    # the table, its columns, the narrowing, the chunks and the key parts: one open of the file
    assert opened.count(str(batches.paths.build_db())) == 1
    assert not every.success and every.rows == 40
    failed = {",".join(f["columns"]) for f in every.failed}
    assert {"organisation_code,program_code", "program_code", "year", "share_improved",
            "n_cases", "costs_eur", "instrument", "level"} <= failed
    assert_same_results(stored_mart, every, "gx_mart_probe")


def test_narrowed_bookings_equal_gx_on_every_row(home: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The DATEV booking sign is computed in pandas for GX; DuckDB flags by the same rule, with
    pandas' reading of missing values (a missing amount, side or reversal flag)."""
    with duckdb.connect(str(batches.paths.build_db())) as con:
        con.execute("create schema raw_accounting")
        con.execute("create table raw_accounting._dlt_loads as select * from (values "
                    "('1.1', 0), ('1.2', 0)) as t(load_id, status)")
        con.execute("""
            create table raw_accounting.bookings as
            with lines as (
                select i,
                    case when i = 12 then null when i = 13 then 'X'
                         when i % 7 = 0 then 'H' else 'S' end as debit_credit,
                    case when i = 11 then null else i % 5 = 0 end as is_reversal,
                    case when i = 4 then 0 when i = 8 then null
                         else 10 + i end::decimal(18, 2) as unsigned
                from range(60) as r(i)
            )
            select
                'swm' as organisation_code, 'dddd' as source_sha256,
                case when i = 30 then 29 else i + 3 end as source_line,
                case when i in (3, 10, 21, 35) then unsigned  -- the wrong sign
                     when (debit_credit = 'H') <> coalesce(is_reversal, false) then -unsigned
                     else unsigned end as amount_eur,
                case when i = 14 then -1 else unsigned end as amount_unsigned_eur,
                debit_credit, is_reversal, 'EUR' as currency_code,
                '4100' as account, date '2025-01-01' + i::int as document_date,
                case when i < 40 then '1.1' else '1.2' end as _dlt_load_id
            from lines
        """)
    monkeypatch.setattr(batches, "SAMPLE_ROWS", 2)
    loads = ["1.1", "1.2"]
    batch = batches.read_batch("raw_accounting", "bookings", loads)
    narrowing = batch.narrowing(batches.bookings_suite("x").expectations,
                                {batches.BOOKING_SIGN: (batches.BOOKING_SIGN_SQL, "BOOLEAN")})
    assert narrowing is not None
    seen = sum(len(c) for c in batch.chunks(1000, narrowing.rows))
    every = batches.validate_batch("raw_accounting", "bookings", loads, run_name="every",
                                   chunk_rows=7, key_part_rows=10, narrow=False)
    narrowed = batches.validate_batch("raw_accounting", "bookings", loads, run_name="narrowed",
                                      chunk_rows=7, key_part_rows=10)
    failed = {",".join(f["columns"]): f["unexpected_count"] for f in every.failed}
    assert {batches.BOOKING_SIGN, "debit_credit", "amount_unsigned_eur", "amount_eur",
            "source_sha256,source_line"} <= set(failed)
    assert_same_results(narrowed, every, "gx_batch_bookings")
    assert seen < 30
