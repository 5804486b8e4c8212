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
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd

from ingestion.pseudonymise import PSEUDONYM_HEX_CHARS
from ingestion.standard import EntitySpec, FieldSpec, standard
from quality.gx import (
    KEYED_EXPECTATIONS,
    Whole,
    expectation_key,
    new_suite,
    run_suite_in_parts,
    run_suite_narrowed,
)
from warehouse import paths
from warehouse.checks import CheckResult
from warehouse.db import sql_name, sql_text, table_exists

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


# The same in SQL, for narrowing (pandas' comparisons with a missing value are false).
BOOKING_SIGN_SQL = (
    "coalesce(amount_eur::double = 0, false) or (coalesce(amount_eur::double < 0, false) = "
    "(coalesce(debit_credit = 'H', false) <> coalesce(is_reversal, false)))"
)


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


# Rows GX validates in every narrowed batch whatever the SQL flagged: the batch's first.
SAMPLE_ROWS = 1_000
# Below this many samples' rows GX on every row costs less than the SQL that narrows them.
NARROW_FROM_SAMPLES = 10


def worth_narrowing(rows: int) -> bool:
    return rows > NARROW_FROM_SAMPLES * SAMPLE_ROWS


@dataclass(frozen=True)
class Narrowing:
    """The rows of a batch GX has to see to find every unexpected value: the first
    :data:`SAMPLE_ROWS` and those SQL flags for a row-by-row expectation (``rows``), per keyed
    expectation the first rows and those whose key occurs more than once (``keyed``), and the
    whole batch's counts (``whole``)."""

    rows: str
    keyed: dict[tuple[str, ...], str]
    whole: Whole


@dataclass
class Batch:
    """The completed rows of some loads of one table, read part by part (never all at once)."""

    dataset: str
    table: str
    completed_loads: list[str]
    incomplete_loads: list[str]
    rows: int
    every_row: bool = False  # the whole table (a mart), not the rows of some loads
    # the table's columns -> DuckDB type, in the table's order
    types: dict[str, str] = field(default_factory=dict)

    def _where(self, narrowed: str | None = None) -> tuple[str, dict[str, Any]]:
        where = f"from {sql_name(self.dataset)}.{sql_name(self.table)} where "
        where += "true" if self.every_row else "list_contains($loads::varchar[], _dlt_load_id)"
        params = {} if self.every_row else {"loads": self.completed_loads}
        return where + (f" and ({narrowed})" if narrowed else ""), params

    def narrowing(self, expectations: Sequence[Any],
                  derived: dict[str, tuple[str, str]] | None = None) -> Narrowing | None:
        """What GX needs to see of this batch to validate ``expectations`` as on every row: SQL
        flags, for each expectation, a superset of the rows GX could find unexpected (GX still
        decides on each of them), and counts what GX counts as missing in the whole batch.
        None when an expectation is not one SQL can narrow (then GX sees every row).
        ``derived``: columns the frames get in pandas, by name -> (SQL, DuckDB type)."""
        where, params = self._where()
        derived = derived or {}
        with _read_only() as con:
            types = {**self.types, **{name: kind for name, (_, kind) in derived.items()}}
            columns = _Columns(types, where, {name: sql for name, (sql, _) in derived.items()})
            flags: list[str] = []
            keyed: dict[tuple[str, ...], str] = {}
            missing: dict[str, str] = {}
            for expectation in expectations:
                kind, kwargs = expectation.expectation_type, expectation.configuration.kwargs
                sql = _narrowed(kind, kwargs, columns)
                if sql is None:
                    return None
                flag, missing[expectation_key(kind, kwargs)] = sql
                if kind in KEYED_EXPECTATIONS:
                    keyed[tuple(KEYED_EXPECTATIONS[kind](kwargs))] = flag
                else:
                    flags.append(flag)
            keys = list(missing)
            # The sample is the batch's first rows: those up to the row id of its last, found
            # once here rather than in every query that selects the rows GX sees.
            last = f"(select max(rowid) from (select rowid {where} order by rowid " \
                   f"limit {SAMPLE_ROWS}))"
            filtered = "".join(f", count(*) filter (where {missing[k]})" for k in keys)
            counts = con.execute(f"select count(*), {last}{filtered} {where}",
                                 params).fetchall()[0]
        sample = "false" if counts[1] is None else f"rowid <= {int(counts[1])}"
        return Narrowing(
            rows=" or ".join([sample, *flags]),
            keyed={cols: f"{sample} or {flag}" for cols, flag in keyed.items()},
            whole=Whole(int(counts[0]), dict(zip(keys, map(int, counts[2:]), strict=True))),
        )

    def chunks(self, rows: int = CHUNK_ROWS, narrowed: str | None = None
               ) -> Iterator[pd.DataFrame]:
        """The rows in table order (only those ``narrowed`` selects, if given), ``rows`` at a
        time, each frame indexed by the rows' row ids (their place in the table: equal in every
        part and in the whole)."""
        where, params = self._where(narrowed)
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

    def key_parts(self, columns: list[str], rows: int = KEY_PART_ROWS,
                  narrowed: str | None = None) -> Iterator[pd.DataFrame]:
        """Only ``columns`` (of the rows ``narrowed`` selects, if given), split by a hash of
        their values: rows with equal values are in the same part, each part in table order and
        indexed by row id."""
        where, params = self._where(narrowed)
        cols = ", ".join(sql_name(c) for c in columns)
        with _read_only() as con:
            if narrowed:
                # The narrowed rows (their condition holds a grouping of the whole batch), found
                # once: a temporary table on this read-only connection, in DuckDB's memory or
                # its spill files.
                con.execute(f"create temp table {_PARTS} as select rowid as {_ROW}, {cols} "
                            f"{where}", params)
                where, params = f"from {_PARTS} where true", {}
                total = con.execute(f"select count(*) from {_PARTS}").fetchall()[0][0]
            else:
                total = self.rows
            parts = max(1, -(-total // rows))
            hashed = f"hash({cols}) % {parts} = $part" if parts > 1 else "$part::int = 0"
            row = _ROW if narrowed else f"rowid as {_ROW}"
            for part in range(parts):
                frame = con.execute(f"select {row}, {cols} {where} and {hashed} "
                                    f"order by {_ROW}", {**params, "part": part}).df()
                frame = frame.set_index(_ROW)
                frame.index.name = None
                yield frame


_ROW = "_datenwerk_row"
_PARTS = "_datenwerk_key_parts"
_SHARED: ContextVar[duckdb.DuckDBPyConnection | None] = ContextVar("batches_shared",
                                                                   default=None)


@contextmanager
def reading() -> Iterator[None]:
    """Every read of the build database in this block (and in the generators it consumes) goes
    through one read-only connection, a cursor each: the file is opened once per validation."""
    if _SHARED.get() is not None:
        yield
        return
    con = duckdb.connect(str(paths.build_db()), read_only=True)
    token = _SHARED.set(con)
    try:
        yield
    finally:
        _SHARED.reset(token)
        con.close()


def _read_only() -> duckdb.DuckDBPyConnection:
    shared = _SHARED.get()
    con = shared.cursor() if shared is not None else duckdb.connect(str(paths.build_db()),
                                                                    read_only=True)
    con.execute("set enable_progress_bar = false")  # not into the check's captured output
    return con


def _types(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    return dict(con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = ? and table_name = ? order by ordinal_position",
        [schema, table]).fetchall())


def whole_table(schema: str, table: str) -> Batch | None:
    """Every row of a base table (a mart) as a batch; None for a view or a missing table (their
    rows have no row id)."""
    with _read_only() as con:
        found = con.execute(
            "select count(*) from information_schema.tables where table_schema = ? "
            "and table_name = ? and table_type = 'BASE TABLE'", [schema, table]).fetchall()[0][0]
        if not found:
            return None
        rows = con.execute(f"select count(*) from {sql_name(schema)}.{sql_name(table)}"
                           ).fetchall()[0][0]
        types = _types(con, schema, table)
    return Batch(schema, table, [], [], int(rows), every_row=True, types=types)


def read_batch(dataset: str, table: str, load_ids: Sequence[str]) -> Batch:
    """Which of ``load_ids`` dlt recorded as completed in ``dataset``, and their rows' count."""
    with _read_only() as con:
        exists = table_exists(con, dataset, table)
        completed = [r[0] for r in con.execute(
            f"select load_id from {sql_name(dataset)}._dlt_loads "
            "where status = 0 and list_contains(?::varchar[], load_id) order by load_id",
            [list(load_ids)],
        ).fetchall()] if exists else []
        rows = con.execute(
            f"select count(*) from {sql_name(dataset)}.{sql_name(table)} "
            "where list_contains(?::varchar[], _dlt_load_id)", [completed]
        ).fetchall()[0][0] if completed else 0
        types = _types(con, dataset, table)
    return Batch(dataset, table, completed, sorted(set(load_ids) - set(completed)), rows,
                 types=types)


def validate_batch(dataset: str, table: str, load_ids: Sequence[str], *,
                   run_name: str = "manual", chunk_rows: int = CHUNK_ROWS,
                   key_part_rows: int = KEY_PART_ROWS, narrow: bool = True) -> CheckResult:
    """Validate the completed rows of ``load_ids`` in one batch table, a chunk at a time; GX
    sees only the rows SQL cannot vouch for (:meth:`Batch.narrowing`) unless ``narrow`` is
    False."""
    with reading():
        return _validate_batch(dataset, table, load_ids, run_name, chunk_rows, key_part_rows,
                               narrow)


def _validate_batch(dataset: str, table: str, load_ids: Sequence[str], run_name: str,
                    chunk_rows: int, key_part_rows: int, narrow: bool) -> CheckResult:
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
    if table == "bookings":
        suite = bookings_suite(name)
        codes = ["debit_credit", "currency_code", BOOKING_SIGN]
    else:
        spec = standard()[table]
        suite = entity_suite(spec, name)
        codes = [f.name for f in spec.fields.values() if f.codes]
    # GX decides on every row SQL flags; the rows no expectation can find fault with are only
    # counted (at demo scale 100 GX saw 2.86 million contacts a chunk at a time: 16 s).
    derived = {BOOKING_SIGN: (BOOKING_SIGN_SQL, "BOOLEAN")} if table == "bookings" else {}
    narrowing = batch.narrowing(suite.expectations, derived) \
        if narrow and worth_narrowing(batch.rows) else None
    chunks: Iterable[pd.DataFrame] = batch.chunks(
        chunk_rows, narrowing.rows if narrowing else None)
    if table == "bookings":
        chunks = map(_with_booking_sign, chunks)

    def key_parts(columns: list[str]) -> Iterator[pd.DataFrame]:
        return batch.key_parts(columns, key_part_rows,
                               narrowing.keyed[tuple(columns)] if narrowing else None)

    if narrowing is None:
        return run_suite_in_parts(suite, chunks, key_parts, asset_name=f"{dataset}.{table}",
                                  run_name=run_name, codes=codes, notes=notes)
    return run_suite_narrowed(suite, chunks, key_parts, narrowing.whole,
                              asset_name=f"{dataset}.{table}", run_name=run_name, codes=codes,
                              notes=notes)


# DuckDB types whose values GX sees as floats, NaN included (pandas counts NaN as missing).
_FLOATS = ("FLOAT", "DOUBLE", "REAL")
_NUMBERS = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
            "UINTEGER", "UBIGINT", *_FLOATS)
# Patterns DuckDB (RE2) reads as Python does, or more strictly: classes, counts and anchors.
_PLAIN_REGEX = re.compile(r"[\^$\[\]{}\w,\-]*")


def _sql_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    return sql_text(str(value))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class _Columns:
    """The batch table's columns by name -> DuckDB type, and the batch's ``from ... where``."""

    types: dict[str, str]
    where: str
    derived: dict[str, str]  # a column computed from the row (its SQL), not stored

    def ref(self, column: str) -> str:
        """The column in SQL: its quoted name, or the expression it is computed by."""
        return f"({self.derived[column]})" if column in self.derived else sql_name(column)

    def kind(self, column: str) -> str:
        return self.types[column].split("(")[0]

    def numeric(self, column: str) -> bool:
        return self.kind(column) in (*_NUMBERS, "DECIMAL")

    def exact(self, column: str) -> bool:
        """Whether DuckDB compares this column's values as pandas compares them: not a decimal,
        which pandas reads as a double."""
        return self.kind(column) in (*_NUMBERS, "DATE")

    def null(self, column: str) -> str:
        """What GX (pandas) counts as missing: null, and NaN in a float column."""
        nan = f" or isnan({self.ref(column)})" if self.kind(column) in _FLOATS else ""
        return f"({self.ref(column)} is null{nan})"


# (condition on a row GX could find unexpected, condition on a row GX counts as missing).
_Narrowed = tuple[str, str] | None


def _not_null(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    return cols.null(columns[0]), "false"


def _in_set(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    column, values = columns[0], list(kwargs.get("value_set") or [])
    same = (all(isinstance(v, str) for v in values) and cols.kind(column) == "VARCHAR") or (
        all(isinstance(v, bool) for v in values) and cols.kind(column) == "BOOLEAN") or (
        all(_is_number(v) for v in values) and cols.exact(column) and cols.numeric(column))
    if not same or not values:
        return None
    listed = ", ".join(_sql_literal(v) for v in values)
    return (f"({cols.ref(column)} is not null and {cols.ref(column)} not in ({listed}))",
            cols.null(column))


def _between(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    column = columns[0]
    bounds = [(op, kwargs.get(key)) for op, key in ((">", "min_value"), ("<", "max_value"))
              if kwargs.get(key) is not None]
    if not cols.numeric(column) or not bounds or not all(_is_number(v) for _, v in bounds):
        return None
    # Where DuckDB compares as pandas does (integers, doubles) a bound is allowed unless GX's
    # strict_min/strict_max says otherwise; decimals, which pandas reads as doubles, have their
    # bounds flagged too. NaN sorts above every number in DuckDB, so it is flagged.
    exact = cols.exact(column)
    strict = {">": kwargs.get("strict_min") or not exact,
              "<": kwargs.get("strict_max") or not exact}
    within = " and ".join(f"{cols.ref(column)} {op}{'' if strict[op] else '='} {_sql_literal(v)}"
                          for op, v in bounds)
    return f"({cols.ref(column)} is not null and not ({within}))", cols.null(column)


def _regex(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    column, regex = columns[0], str(kwargs.get("regex") or "")
    if cols.kind(column) != "VARCHAR" or not _PLAIN_REGEX.fullmatch(regex):
        return None
    # GX searches (re.search), as regexp_matches does; RE2's $ is stricter than Python's.
    return (f"({cols.ref(column)} is not null and "
            f"not regexp_matches({cols.ref(column)}, {_sql_literal(regex)}))", cols.null(column))


def _a_greater_than_b(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    a, b = columns
    if not ((cols.numeric(a) and cols.numeric(b)) or cols.kind(a) == cols.kind(b)):
        return None
    ignore = kwargs.get("ignore_row_if") or "both_values_are_missing"
    missing = {"either_value_is_missing": f"({cols.null(a)} or {cols.null(b)})",
               "both_values_are_missing": f"({cols.null(a)} and {cols.null(b)})"
               }.get(ignore, "false")
    # Equal values are allowed with or_equal where DuckDB compares as pandas does, else flagged.
    at_least = ">=" if kwargs.get("or_equal") and cols.exact(a) and cols.exact(b) else ">"
    greater = f"not coalesce({cols.ref(a)} {at_least} {cols.ref(b)}, false)"
    if ignore == "either_value_is_missing":
        return f"(not {missing} and {greater})", missing
    return f"({greater})", missing


def _unique(cols: _Columns, kwargs: dict[str, Any], columns: list[str]) -> _Narrowed:
    if any(cols.kind(c) in _FLOATS for c in columns):
        return None  # -0.0 and 0.0: equal to pandas, maybe not to DuckDB's hash
    keys = ", ".join(cols.ref(c) for c in columns)
    repeated = f"hash({keys}) in (select hash({keys}) {cols.where} group by 1 having count(*) > 1)"
    if "column_list" not in kwargs:
        return repeated, cols.null(columns[0])
    ignore = kwargs.get("ignore_row_if") or "all_values_are_missing"
    joined = {"all_values_are_missing": " and ", "any_value_is_missing": " or "}.get(ignore)
    return repeated, f"({joined.join(cols.null(c) for c in columns)})" if joined else "false"


# The expectations SQL narrows, by GX's name; any other leaves GX to see every row.
_NARROWED: dict[str, Callable[[_Columns, dict[str, Any], list[str]], _Narrowed]] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_match_regex": _regex,
    "expect_column_pair_values_a_to_be_greater_than_b": _a_greater_than_b,
    "expect_compound_columns_to_be_unique": _unique,
    "expect_column_values_to_be_unique": _unique,
}


def _narrowed(kind: str, kwargs: dict[str, Any], cols: _Columns) -> _Narrowed:
    """For one expectation: SQL true for every row GX could find unexpected (more rows are
    harmless: GX decides on them) and SQL of the rows GX counts as missing; None when the
    expectation or its column types are not among those narrowed here."""
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if kwargs.get(k)]
    columns += list(kwargs.get("column_list") or [])
    if kind not in _NARROWED or not columns or any(c not in cols.types for c in columns):
        return None  # or a column derived in pandas (the booking sign): GX sees every row
    return _NARROWED[kind](cols, kwargs, columns)
