"""The raw tables reach the Spark engine's lake through dlt's filesystem destination
(``warehouse.lake.export_raw``): the rows, load ids and types of the DuckDB landing, the loads'
``_dlt_loads`` apart from dlt's own bookkeeping."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import dlt
import duckdb
import pyarrow as pa

from ingestion.pipelines import pipeline
from tests.conftest import use_home
from warehouse import holds, lake, paths


def _land(amounts: list[str]) -> str:
    """One real load of ``raw_accounting`` into build.duckdb; returns its load id. ``bookings``
    has a timestamp with time zone, a decimal, a date and a null; ``quarantine`` stays empty."""
    n = len(amounts)
    bookings = pa.table({
        "booking_id": pa.array([f"b{i}" for i in range(n)]),
        "amount": pa.array([decimal.Decimal(a) for a in amounts], pa.decimal128(18, 2)),
        "booked_on": pa.array([dt.date(2026, 3, i + 1) for i in range(n)]),
        "received_at": pa.array([dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)] * n,
                                pa.timestamp("us", "UTC")),
        "cost_centre": pa.array([None] * n, pa.string()),
    })
    quarantine = pa.table({"reason": pa.array([], pa.string())})
    info = pipeline("raw_accounting").run(
        [dlt.resource([bookings], name="bookings", write_disposition="append"),
         dlt.resource([quarantine], name="quarantine", write_disposition="append")])
    return info.loads_ids[0]


def _lake_scan(raw: Path, table: str) -> str:
    return "read_parquet('{}')".format(raw / "raw_accounting" / table / "*.parquet")


def test_the_lake_keeps_the_landings_load_ids_types_and_completed_loads(tmp_path: Path) -> None:
    use_home(tmp_path)
    first = _land(["12.50", "-3.10"])
    holds.hold([first], dataset="raw_accounting", table="bookings", check="gx_batch_bookings",
               reason="Testsperre")
    counts = lake.export_raw()
    second = _land(["7.00"])
    counts = lake.export_raw()
    assert counts["raw_accounting.bookings"] == 3
    assert counts["raw_accounting.completed_loads"] == 2
    assert counts["raw_accounting.quarantine"] == 0

    raw = paths.lake_dir() / "raw"
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{paths.build_db()}' as landing (read_only)")
        for landed, table in (("bookings", "bookings"), ("_dlt_loads", "completed_loads"),
                              ("quarantine", "quarantine")):
            scan = _lake_scan(raw, table)
            # The same columns and types as in DuckDB; a replace leaves one table, not two.
            types = "select column_name, column_type from (describe select * from {})"
            assert (con.execute(types.format(scan)).fetchall()
                    == con.execute(types.format(f"landing.raw_accounting.{landed}")).fetchall())
            assert sorted(con.execute(f"select * from {scan}").fetchall()) == sorted(
                con.execute(f"select * from landing.raw_accounting.{landed}").fetchall())
        # The rows keep the load ids of the landing, which staging filters by.
        assert sorted(r[0] for r in con.execute(
            f"select distinct _dlt_load_id from {_lake_scan(raw, 'bookings')}").fetchall()) == [
            first, second]
        assert con.execute(
            f"select count(*) from {_lake_scan(raw, 'completed_loads')} "
            "where load_id in (?, ?) and status = 0", [first, second]).fetchall() == [(2,)]
        # dlt's own bookkeeping is JSONL in its own folders, never Parquet the sources read.
        assert not list((raw / "raw_accounting" / "_dlt_loads").glob("*.parquet"))
        held = (raw / "datenwerk_holds" / "held_loads" / "*.parquet").as_posix()
        assert con.execute(f"select load_id from read_parquet('{held}')").fetchall() == [(first,)]
