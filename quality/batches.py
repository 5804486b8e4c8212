"""Great Expectations suites for incoming batches, before staging merges them.

One suite per standard entity (``clients``, ``cases``, ``contacts``, ``goals``, ``assessments``),
derived from ``ingestion/standard_v1.yml`` (required fields not null, codes in their lists,
numeric ranges, pseudonyms that look like pseudonyms, the entity's rules, one row per key and per
source line within a file), and one for the DATEV ``bookings``. A suite validates only the rows of
the given loads that dlt recorded as completed (``_dlt_loads.status = 0``), read from
``build.duckdb`` on a read-only connection.

The loader already rejects such rows into the quarantine; these suites are the independent
second line: a loader bug must not reach the marts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from ingestion.pseudonymise import PSEUDONYM_HEX_CHARS
from ingestion.standard import EntitySpec, FieldSpec, standard
from quality.gx import new_suite, run_suite_in_parts
from warehouse import paths
from warehouse.checks import CheckResult
from warehouse.db import table_exists

CASE_MANAGEMENT = "raw_case_management"
ACCOUNTING = "raw_accounting"
PSEUDONYM_REGEX = rf"^[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}$"
REGION_REGEX = r"^[0-9]{3}$"
BOOKING_SIGN = "amount_sign_matches_debit_credit"  # derived before validation


def batch_tables() -> dict[tuple[str, str], str]:
    """``(dataset, table)`` of every validated batch table -> its suite's name."""
    tables = {(CASE_MANAGEMENT, entity): f"gx_batch_{entity}" for entity in standard()}
    tables[(ACCOUNTING, "bookings")] = "gx_batch_bookings"
    return tables


def entity_suite(spec: EntitySpec, name: str) -> Any:
    """Suite of one standard entity, as its rows are stored in ``raw_case_management``."""
    import great_expectations as gx

    e = gx.expectations
    suite = new_suite(name)
    for col in ("organisation_code", "department_code", "source_sha256", "source_line"):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=col))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(
        column_list=["source_sha256", "source_line"]))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(
        column_list=["source_sha256", *spec.key]))
    for f in spec.fields.values():
        for expectation in _field_expectations(e, f):
            suite.add_expectation(expectation)
    for rule in spec.rules:
        if rule.name not in _RULES:
            raise ValueError(f"standard rule {rule.name!r} has no batch expectation yet: "
                             "add one to _RULES in quality/batches.py")
        for greater, smaller in _RULES[rule.name]:
            suite.add_expectation(e.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=greater, column_B=smaller, or_equal=True,
                ignore_row_if="either_value_is_missing"))
    return suite


def _field_expectations(e: Any, f: FieldSpec) -> Iterator[Any]:
    """What one field of the standard promises about its stored column (or, for a personal
    field, about the coarsened columns derived from it)."""
    if f.personal:
        for derived, how in f.derive.items():
            yield _DERIVED[how](e, derived)
        return
    if f.required:
        yield e.ExpectColumnValuesToNotBeNull(column=f.name)
    if f.codes:
        yield e.ExpectColumnValuesToBeInSet(column=f.name, value_set=list(f.codes))
    if f.minimum is not None or f.maximum is not None:
        yield e.ExpectColumnValuesToBeBetween(
            column=f.name, min_value=f.minimum, max_value=f.maximum)
    if f.pseudonymise:
        yield e.ExpectColumnValuesToMatchRegex(column=f.name, regex=PSEUDONYM_REGEX)


def _birth_year(e: Any, column: str) -> Any:
    year = dt.date.today().year
    return e.ExpectColumnValuesToBeBetween(column=column, min_value=year - 120, max_value=year)


# What a coarsened field derived from a personal one must look like, by how it is derived.
_DERIVED: dict[str, Callable[[Any, str], Any]] = {
    "year": _birth_year,
    "postcode_region": lambda e, column: e.ExpectColumnValuesToMatchRegex(
        column=column, regex=REGION_REGEX),
}

# Rules of the data standard as (greater or equal, smaller) column pairs.
_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "end_before_start": (("end_date", "start_date"),),
    "score_out_of_scale": (("score", "scale_min"), ("scale_max", "score")),
}


def bookings_suite(name: str) -> Any:
    """Suite of DATEV booking lines as stored in ``raw_accounting.bookings``."""
    import great_expectations as gx

    e = gx.expectations
    suite = new_suite(name)
    for col in ("organisation_code", "source_sha256", "source_line", "amount_eur",
                "amount_unsigned_eur", "debit_credit", "account", "document_date"):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=col))
    suite.add_expectation(e.ExpectCompoundColumnsToBeUnique(
        column_list=["source_sha256", "source_line"]))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="debit_credit",
                                                        value_set=["S", "H"]))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="amount_unsigned_eur",
                                                          min_value=0))
    # Debit (S) is +, credit (H) is -, a Generalumkehr (reversal) flips the sign.
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column=BOOKING_SIGN, value_set=[True]))
    return suite


def _with_booking_sign(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()  # a slice of a fetched chunk
    negative = (frame["debit_credit"] == "H") ^ frame["is_reversal"].fillna(False).astype(bool)
    amount = frame["amount_eur"].astype("float64")
    frame[BOOKING_SIGN] = (amount == 0) | ((amount < 0) == negative)
    return frame


# Rows validated at a time: memory stays bounded whatever the batch's size (2.86 million
# contacts: 1 GB peak instead of 2.7 GB as one frame, in about the same time). Uniqueness sees
# only its key columns, so a part holds more rows.
CHUNK_ROWS = 200_000
KEY_PART_ROWS = 500_000
_VECTOR = 2048  # DuckDB's rows per vector: fetch_df_chunk counts in vectors


@dataclass
class Batch:
    """The completed rows of some loads of one table, read part by part (never all at once)."""

    dataset: str
    table: str
    completed_loads: list[str]
    incomplete_loads: list[str]
    rows: int

    def _where(self) -> tuple[str, list[Any]]:
        return ((f'from "{self.dataset}"."{self.table}" '
                 "where list_contains(?::varchar[], _dlt_load_id)"), [self.completed_loads])

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        """The rows in table order, ``rows`` at a time, each frame indexed by the rows' row ids
        (their place in the table: equal in every part and in the whole)."""
        where, params = self._where()
        with _read_only() as con:
            result = con.execute(f"select rowid as {_ROW}, * {where}", params)
            while True:
                frame = result.fetch_df_chunk(max(1, -(-rows // _VECTOR)))
                if frame.empty:
                    return
                frame = frame.set_index(_ROW)
                frame.index.name = None
                for start in range(0, len(frame), rows):
                    yield frame.iloc[start:start + rows]

    def key_parts(self, columns: list[str], rows: int = KEY_PART_ROWS) -> Iterator[pd.DataFrame]:
        """Only ``columns``, split by a hash of their values: rows with equal values are in the
        same part, each part in table order and indexed by row id."""
        where, params = self._where()
        parts = max(1, -(-self.rows // rows))
        cols = ", ".join(f'"{c}"' for c in columns)
        hashed = f"hash({cols}) % {parts} = ?" if parts > 1 else "?::int = 0"
        with _read_only() as con:
            for part in range(parts):
                frame = con.execute(f"select rowid as {_ROW}, {cols} {where} and {hashed} "
                                    f"order by {_ROW}", [*params, part]).df()
                frame = frame.set_index(_ROW)
                frame.index.name = None
                yield frame


_ROW = "_datenwerk_row"


def _read_only() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(paths.build_db()), read_only=True)
    con.execute("set enable_progress_bar = false")  # not into the check's captured output
    return con


def read_batch(dataset: str, table: str, load_ids: Sequence[str]) -> Batch:
    """Which of ``load_ids`` dlt recorded as completed in ``dataset``, and their rows' count."""
    with _read_only() as con:
        exists = table_exists(con, dataset, table)
        completed = [r[0] for r in con.execute(
            f'select load_id from "{dataset}"._dlt_loads '
            "where status = 0 and list_contains(?::varchar[], load_id) order by load_id",
            [list(load_ids)],
        ).fetchall()] if exists else []
        rows = con.execute(
            f'select count(*) from "{dataset}"."{table}" '
            "where list_contains(?::varchar[], _dlt_load_id)", [completed]
        ).fetchall()[0][0] if completed else 0
    return Batch(dataset, table, completed, sorted(set(load_ids) - set(completed)), rows)


def validate_batch(dataset: str, table: str, load_ids: Sequence[str], *,
                   run_name: str = "manual", chunk_rows: int = CHUNK_ROWS,
                   key_part_rows: int = KEY_PART_ROWS) -> CheckResult:
    """Validate the completed rows of ``load_ids`` in one batch table, a chunk at a time."""
    name = batch_tables()[(dataset, table)]
    batch = read_batch(dataset, table, load_ids)
    notes = [f"loads {', '.join(batch.completed_loads) or '(none)'}"]
    if batch.incomplete_loads:
        notes.append(f"not validated, not completed in _dlt_loads: "
                     f"{', '.join(batch.incomplete_loads)} (staging ignores them too)")
    if not batch.rows:
        import datetime as _dt

        from quality.gx import record_in_index

        empty = f"no new rows of {dataset}.{table} in this run's loads"
        result = CheckResult(check_name=name, passed=True, notes=[empty, *notes])
        record_in_index(result, run_name, _dt.datetime.now(_dt.UTC))
        return result
    chunks: Iterable[pd.DataFrame] = batch.chunks(chunk_rows)
    if table == "bookings":
        suite = bookings_suite(name)
        chunks = map(_with_booking_sign, chunks)
        codes = ["debit_credit", "currency_code", BOOKING_SIGN]
    else:
        spec = standard()[table]
        suite = entity_suite(spec, name)
        codes = [f.name for f in spec.fields.values() if f.codes]
    return run_suite_in_parts(
        suite, chunks, lambda columns: batch.key_parts(columns, key_part_rows),
        asset_name=f"{dataset}.{table}", run_name=run_name, codes=codes, notes=notes)
