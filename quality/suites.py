"""Great Expectations suites for the marts, derived from the column naming conventions.

Every mart whose dbt YAML has ``meta.gx`` (every published mart must: :mod:`warehouse.marts`)
gets two suites, so a new or renamed mart is covered without touching this file:

- ``gx_<mart>`` (blocking): expectations derived from its column names (the conventions in
  ``transform/README``/names: ``*_rate``/``share_*`` in [0, 1]; ``n_*``, ``cases_*``, ``*_count``,
  ``*_days``, ``*_minutes`` and ``*_eur`` non-negative, except signed money ``net_eur``,
  ``balance_eur``; ``is_*``/``has_*`` true or false; ``year``/``*_year`` plausible), its unique
  keys (declared in dbt as ``unique_combination``/``unique`` tests, and in ``meta.gx.keys``), and
  the extra expectations of its ``meta.gx``.
- ``gx_<mart>_row_count`` (warning): the row count lies within ``DATENWERK_ROW_COUNT_BAND`` of the
  mart's rows in the last publication; skipped (passes with a note) on the first publication.

Finance totals are reconciled to the bookings by the blocking check
``reconcile_finance_to_bookings`` (:mod:`quality.accounting`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from quality.gx import new_suite, run_suite, run_suite_narrowed, showable_columns
from warehouse import marts, paths, settings
from warehouse.checks import CheckResult
from warehouse.marts import MartRules

# Signed by meaning: a net amount or balance may be negative (names convention).
SIGNED_MONEY = ("net_eur", "balance_eur")
# Years before this are typing errors in a social-work case file, not history.
YEAR_RANGE = (1900, 2100)


def manifest_path() -> Path:
    return marts.manifest_path()


@dataclass(frozen=True)
class MartSpec:
    """A mart found in the dbt manifest, with the keys and accepted values dbt declares."""

    name: str
    description: str = ""
    keys: tuple[tuple[str, ...], ...] = ()
    accepted_values: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    rules: MartRules = field(default_factory=MartRules)


def discover_marts(manifest: Path | None = None) -> list[MartSpec]:
    """Every mart of the dbt manifest with a suite (``meta.gx``), with its declared keys."""
    data = json.loads((manifest or manifest_path()).read_text(encoding="utf-8"))
    declared = marts.marts_of(data)
    models = {
        uid: node for uid, node in data["nodes"].items()
        if node["resource_type"] == "model" and node["name"] in declared
        and declared[node["name"]].gx is not None
    }
    keys: dict[str, list[tuple[str, ...]]] = {uid: [] for uid in models}
    accepted: dict[str, dict[str, tuple[Any, ...]]] = {uid: {} for uid in models}
    for node in data["nodes"].values():
        attached = node.get("attached_node")
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or attached not in models:
            continue
        kwargs = meta.get("kwargs") or {}
        if meta.get("name") in ("unique_combination", "unique_combination_of_columns"):
            cols = kwargs.get("columns") or kwargs.get("combination_of_columns") or []
            keys[attached].append(tuple(cols))
        elif meta.get("name") == "unique" and node.get("column_name"):
            keys[attached].append((node["column_name"],))
        elif meta.get("name") == "accepted_values" and node.get("column_name"):
            accepted[attached][node["column_name"]] = tuple(kwargs.get("values") or ())
    return sorted(
        (MartSpec(node["name"], node.get("description", ""), tuple(keys[uid]), accepted[uid],
                  declared[node["name"]].gx or MartRules())
         for uid, node in models.items()),
        key=lambda m: m.name,
    )


def mart_spec(name: str) -> MartSpec:
    """The spec of one mart (a mart missing from the manifest gets an empty spec)."""
    for spec in discover_marts():
        if spec.name == name:
            return spec
    return MartSpec(name)


# Naming conventions -> expectation kinds.
def is_rate(col: str) -> bool:
    return col.endswith("_rate") or col.startswith("share_")


def is_count(col: str) -> bool:
    return col.startswith(("n_", "cases_")) or col.endswith(("_count", "_n"))


def is_duration(col: str) -> bool:
    return col.endswith(("_days", "_minutes"))


def is_money(col: str) -> bool:
    return col.endswith("_eur")


def is_year(col: str) -> bool:
    return col == "year" or col.endswith("_year")


def build_suite(mart: str, columns: list[str], spec: MartSpec | None = None
                ) -> tuple[Any, list[str]]:
    """The blocking suite of a mart for the given columns, and notes (e.g. no key declared)."""
    import great_expectations as gx

    spec = spec or MartSpec(mart)
    rules = spec.rules
    e = gx.expectations
    suite = new_suite(f"gx_{mart}")
    notes: list[str] = []
    present = set(columns)

    keys = list(dict.fromkeys([*spec.keys, *rules.keys]))
    for expectation in _key_expectations(e, keys, present, notes):
        suite.add_expectation(expectation)
    signed = set(SIGNED_MONEY) | set(rules.signed)
    for col in columns:
        expectation = _by_name(e, col, rules, signed)
        if expectation is not None:
            suite.add_expectation(expectation)
    for col, (low, high) in rules.between.items():
        if col in present:
            suite.add_expectation(e.ExpectColumnValuesToBeBetween(
                column=col, min_value=low, max_value=high))
    for col, values in {**spec.accepted_values, **rules.in_set}.items():
        if col in present:
            suite.add_expectation(e.ExpectColumnValuesToBeInSet(
                column=col, value_set=list(values)))
    return suite, notes


def _key_expectations(e: Any, keys: list[tuple[str, ...]], present: set[str],
                      notes: list[str]) -> Iterator[Any]:
    """Each key unique and its columns never null; a key or a missing column goes to ``notes``."""
    for key in keys:
        if not set(key) <= present:
            notes.append(f"key {','.join(key)} not checked: missing column(s) "
                         f"{','.join(sorted(set(key) - present))}")
            continue
        if len(key) == 1:
            yield e.ExpectColumnValuesToBeUnique(column=key[0])
        else:
            yield e.ExpectCompoundColumnsToBeUnique(column_list=list(key))
    if not keys:
        notes.append("no unique key declared (add a unique_combination test in dbt)")
    for col in dict.fromkeys(c for key in keys for c in key if c in present):
        yield e.ExpectColumnValuesToNotBeNull(column=col)


def _by_name(e: Any, col: str, rules: MartRules, signed: set[str]) -> Any | None:
    """What a column's name promises (a rate in 0..1, a count >= 0, a year, a flag), if anything."""
    if is_rate(col):
        return e.ExpectColumnValuesToBeBetween(column=col, min_value=0, max_value=1)
    if (is_count(col) or is_duration(col) or (is_money(col) and col not in signed)
            or col in rules.non_negative):
        return e.ExpectColumnValuesToBeBetween(column=col, min_value=0)
    if is_year(col):
        return e.ExpectColumnValuesToBeBetween(
            column=col, min_value=YEAR_RANGE[0], max_value=YEAR_RANGE[1])
    if col.startswith(("is_", "has_")) and col not in rules.in_set:
        return e.ExpectColumnValuesToBeInSet(column=col, value_set=[True, False])
    return None


def read_mart(name: str) -> pd.DataFrame:
    """A mart of the build database as a pandas DataFrame (read-only connection)."""
    with duckdb.connect(str(paths.build_db()), read_only=True) as con:
        return con.sql(f'select * from marts."{name}"').df()


def validate(mart: str, frame: pd.DataFrame, *, run_name: str = "manual",
             spec: MartSpec | None = None) -> CheckResult:
    """Validate one mart's rows against its blocking suite (result kept in the Data Docs); the
    spec defaults to the mart's in the dbt manifest."""
    spec = spec or mart_spec(mart)
    suite, notes = build_suite(mart, list(frame.columns), spec)
    codes = [*spec.accepted_values, *spec.rules.in_set]
    return run_suite(suite, frame, asset_name=mart, run_name=run_name,
                     showable=showable_columns(frame, codes), notes=notes)


def validate_stored(mart: str, *, run_name: str = "manual",
                    spec: MartSpec | None = None) -> CheckResult:
    """:func:`validate` on the mart as stored in the build database. GX sees the rows SQL
    flags for one of the suite's expectations and the first 1,000, a chunk at a time; the other
    rows are counted into each result (:meth:`quality.batches.Batch.narrowing`). A view, a
    small mart or an expectation SQL cannot narrow: GX sees every row."""
    from quality import batches

    spec = spec or mart_spec(mart)
    with batches.reading():
        batch = batches.whole_table("marts", mart)
        if batch is None or not batches.worth_narrowing(batch.rows):
            return validate(mart, read_mart(mart), run_name=run_name, spec=spec)
        suite, notes = build_suite(mart, list(batch.types), spec)
        narrowing = batch.narrowing(suite.expectations)
        if narrowing is None:
            return validate(mart, read_mart(mart), run_name=run_name, spec=spec)
        keyed = narrowing.keyed
        return run_suite_narrowed(
            suite, batch.chunks(batches.CHUNK_ROWS, narrowing.rows),
            lambda cols: batch.key_parts(cols, batches.KEY_PART_ROWS, keyed[tuple(cols)]),
            narrowing.whole, asset_name=mart, run_name=run_name,
            codes=[*spec.accepted_values, *spec.rules.in_set], notes=notes)


def published_row_count(mart: str) -> int | None:
    """Rows of ``mart`` in the current publication; None if nothing (or not this mart) is
    published yet. Read from the publication's manifest, never from ``marts.duckdb``: an
    analyst's read-write connection may hold that file."""
    from warehouse.publish import current_manifest

    manifest = current_manifest()
    if manifest is None:
        return None
    count = manifest.get("row_counts", {}).get(mart)
    return None if count is None else int(count)


def validate_row_count(mart: str, rows: int, *, run_name: str = "manual",
                       band: float | None = None) -> CheckResult:
    """The mart's row count lies within ``band`` (relative) of its last publication."""
    band = settings.row_count_band() if band is None else band
    previous = published_row_count(mart)
    name = f"gx_{mart}_row_count"
    # Nothing to compare without an earlier count; the very count of the publication lies in
    # every band (most marts after a small delivery): no GX set-up for either.
    if previous is None or previous == rows:
        note = (f"first publication of {mart}: no earlier row count to compare (skipped)"
                if previous is None else
                f"{rows} rows, as many as in the last publication: within any band (no GX run)")
        import datetime as dt

        from quality.gx import record_in_index

        result = CheckResult(check_name=name, passed=True, rows=rows, notes=[note])
        record_in_index(result, run_name, dt.datetime.now(dt.UTC))
        return result
    import great_expectations as gx

    low, high = math.ceil(previous * (1 - band)), math.floor(previous * (1 + band))
    suite = new_suite(name)
    suite.add_expectation(gx.expectations.ExpectTableRowCountToBeBetween(
        min_value=max(low, 1 if previous else 0), max_value=max(high, 1)))
    frame = pd.DataFrame({"row": range(rows)})
    result = run_suite(suite, frame, asset_name=mart, run_name=run_name, showable=set(),
                       notes=[(f"last publication: {previous} rows; band ±{band:.0%}: "
                               f"{max(low, 1 if previous else 0)}..{max(high, 1)}")])
    return result
