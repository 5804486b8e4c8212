"""The held-loads register (warehouse/holds.py) and the SQL dbt reads it with."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from tests.conftest import use_home
from warehouse import holds


def test_hold_release_and_the_sql_dbt_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    use_home(tmp_path)
    assert holds.held() == []
    holds.hold(["1700000000.1"], dataset="raw_case_management", table="clients",
               check="gx_batch_clients", reason="1 expectation failed")
    holds.hold(["1700000000.1"], dataset="raw_case_management", table="cases",
               check="gx_batch_cases", reason="again")
    [h] = holds.held()
    assert h.tables == ("cases", "clients") and h.checks == ("gx_batch_cases", "gx_batch_clients")
    assert h.reason == "1 expectation failed"  # the first reason stays

    # The subquery the reconciliation uses, and dbt's held_load_ids macro spells the same (a
    # stray file without a load id is ignored rather than turning NOT IN into "nothing").
    (holds.held_dir() / "notes.json").write_text("{}")
    macro = (Path(__file__).parents[2] / "transform/macros/completed_loads.sql").read_text()
    sql = holds.held_load_ids_sql()
    assert "json_extract_string(content, '$.load_id')" in macro and "load_id is not null" in macro
    with duckdb.connect() as con:
        assert con.sql(sql).fetchall() == [("1700000000.1",)]
    use_home(tmp_path / "nothing-held-yet")
    with duckdb.connect() as con:
        assert con.sql(holds.held_load_ids_sql()).fetchall() == []
    use_home(tmp_path)

    with pytest.raises(KeyError, match="not held"):
        holds.release("1700000000.2", reason="x")
    with pytest.raises(ValueError, match="not a dlt load id"):
        holds.hold(["../etc"], dataset="d", table="t", check="c", reason="r")
    assert holds.released_since(None) == []
    before = dt.datetime.now(dt.UTC)
    holds.release("1700000000.1", reason="checked by hand", by="tester")
    assert [h.load_id for h in holds.held()] == []
    # released since the last full build: the next build is a full refresh; a later one is not
    assert holds.released_since(before) == holds.released_since(None) == ["1700000000.1"]
    # a moment after the recorded release (not after ``before``: a slow release, under load,
    # may be recorded seconds later)
    record = (holds.released_dir() / "1700000000.1.json").read_text()
    released = dt.datetime.fromisoformat(json.loads(record)["released_at"])
    assert released >= before.replace(microsecond=0)
    assert holds.released_since(released + dt.timedelta(seconds=1)) == []
    assert '"released_by": "tester"' in record
