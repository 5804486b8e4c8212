"""Great Expectations on pandas frames, with results kept as Data Docs under DATENWERK_HOME.

GX's SQL engine does not work on DuckDB (duckdb-engine: every metric fails with "list index out of
range"), so every suite runs on a pandas DataFrame read from DuckDB. Results go to a GX file
context rooted at ``$DATENWERK_HOME/quality`` (never in the repository) and are rendered as Data
Docs into ``$DATENWERK_HOME/quality/data_docs``.

Privacy: a result keeps sample values only for code, numeric and boolean columns. Identifiers
(``*_id``, pseudonyms, file names, booking texts) and dates lose their value lists before the
result is stored, rendered or put into Dagster metadata.

Offline: building the docs downloads nothing. GX's pages refer to CSS/JS on public CDNs; offline
the validation pages still show every expectation and its result (unstyled), but GX's own index
is a table filled by JavaScript. So Datenwerk writes its own plain ``index.html`` (no external
reference) listing the latest runs of every suite, and strips GX's logo URL that carries the
context id as a query string (a tracking request on every page view).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from warehouse import paths, settings
from warehouse.checks import CheckResult
from warehouse.files import write_text_atomically

log = logging.getLogger(__name__)

# Enough values to recognise a wrong code, few enough to keep check metadata small.
SAMPLE_VALUES = 5
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_VALUES}
# Results (and their pages) kept per suite: two weeks of nightly runs plus a few manual ones.
KEEP_RESULTS_PER_SUITE = 20
DATASOURCE = "frames"
# Never shown, whatever their type: identifiers, pseudonyms, file names and free text.
NEVER_SHOWN = re.compile(
    r"(_id|_sha256|_file|_text|_name|_number|message|label|description)$|^_dlt_"
)
_VALUE_KEYS = ("unexpected_list", "partial_unexpected", "unexpected_index", "details")




def showable_columns(frame: pd.DataFrame, codes: Iterable[str] = ()) -> set[str]:
    """Columns whose values may appear in results: codes, numbers, booleans; no identifiers."""
    codes = set(codes)
    out = set()
    for col in frame.columns:
        if NEVER_SHOWN.search(col):
            continue
        dtype = frame[col].dtype
        numeric = pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        if col in codes or col.endswith("_code") or col.startswith(("is_", "has_")) or numeric:
            out.add(col)
    return out


# One context at a time: GX binds new suites to the "current project", the last context made.
_current: dict[Path, Any] = {}


def context() -> Any:
    """The GX file context of this installation (created on first use, kept while the home
    stays the same)."""
    root = paths.quality_dir()
    if root in _current:
        return _current[root]
    _current.clear()
    settings.apply_process_environment()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    root.mkdir(parents=True, exist_ok=True)
    ctx = gx.get_context(mode="file", project_root_dir=str(root))
    site = {
        "class_name": "SiteBuilder",
        "show_how_to_buttons": False,
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(paths.data_docs_dir()),
        },
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        # the same pages, from templates compiled once (quality/docs_view.py)
        "site_section_builders": {
            section: {"view": {"module_name": "quality.docs_view",
                               "class_name": "CachedTemplatesPageView"}}
            for section in ("expectations", "validations", "profiling")
        },
    }
    # Set on every start: the docs follow DATENWERK_HOME even if the folder was moved.
    ctx.variables.data_docs_sites = {"local_site": site}
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    ctx.variables.save()
    try:
        ctx.data_sources.get(DATASOURCE)
    except (KeyError, ValueError, LookupError):
        ctx.data_sources.add_pandas(DATASOURCE)
    _current[root] = ctx
    return ctx


class SuiteBuilder:
    """Collects expectations, then makes the suite in one go (adding to a suite that is
    already stored would write it to the store once per expectation)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.expectations: list[Any] = []

    def add_expectation(self, expectation: Any) -> None:
        self.expectations.append(expectation)

    def build(self) -> Any:
        context()
        import great_expectations as gx

        return gx.ExpectationSuite(name=self.name, expectations=self.expectations)


def new_suite(name: str) -> SuiteBuilder:
    """A suite under construction, bound to this installation's context when built."""
    return SuiteBuilder(name)


def _batch(ctx: Any, asset_name: str, frame: pd.DataFrame) -> Any:
    source = ctx.data_sources.get(DATASOURCE)
    try:
        asset = source.get_asset(asset_name)
    except LookupError:
        asset = source.add_dataframe_asset(asset_name)
    try:
        batch_def = asset.get_batch_definition("whole")
    except KeyError:
        batch_def = asset.add_batch_definition_whole_dataframe("whole")
    return batch_def.get_batch(batch_parameters={"dataframe": frame})


def _forget_batches(ctx: Any) -> None:
    """Drop the frames GX keeps after validating them. Its execution engine caches the last
    batch of every asset (keyed by asset), so without this each mart's whole frame and each batch
    table's last chunk stay in the process to its end: at demo scale 100 the run worker held
    ~1.3 GB after the mart checks, beside the report browser and the exports."""
    manager = ctx.data_sources.get(DATASOURCE).get_execution_engine().batch_manager
    manager.reset_batch_cache()
    manager.batch_data_cache.clear()


def _columns(kwargs: dict[str, Any]) -> list[str]:
    if kwargs.get("column"):
        return [kwargs["column"]]
    if kwargs.get("column_A"):
        return [kwargs["column_A"], kwargs["column_B"]]
    return list(kwargs.get("column_list") or [])


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def _scrub(result: Any, showable: set[str]) -> list[dict[str, Any]]:
    """Drop value lists of non-showable columns from the GX result (in place); the failures."""
    failed = []
    for r in result.results:
        kwargs = r.expectation_config.kwargs
        columns = _columns(kwargs)
        shown = bool(columns) and all(c in showable for c in columns)
        res = r.result or {}
        if not shown:
            for key in list(res):
                if key.startswith(_VALUE_KEYS):
                    del res[key]
        if r.success:
            continue
        exception = r.exception_info if isinstance(r.exception_info, dict) else {}
        item: dict[str, Any] = {
            "expectation": r.expectation_config.type,
            "columns": columns,
            "unexpected_count": res.get("unexpected_count"),
            "unexpected_percent": round(res["unexpected_percent"], 3)
            if isinstance(res.get("unexpected_percent"), float) else None,
            "observed_value": str(res.get("observed_value", ""))[:200] or None,
            "sample_values": _plain(res.get("partial_unexpected_list", [])[:SAMPLE_VALUES])
            if shown else "(not shown: identifier or free text)",
            "exception": (exception.get("exception_message") or None)
            if exception.get("raised_exception") else None,
        }
        bounds = {k: kwargs[k] for k in ("min_value", "max_value", "value_set", "regex")
                  if kwargs.get(k) is not None}
        if bounds:
            item["expected"] = _plain(bounds)
        failed.append({k: v for k, v in item.items() if v is not None})
    return failed


def run_suite(
    suite: Any,
    frame: pd.DataFrame,
    *,
    asset_name: str,
    run_name: str,
    showable: set[str] | None = None,
    notes: list[str] | None = None,
) -> CheckResult:
    """Validate ``frame`` against ``suite``, store the scrubbed result, render its Data Docs page.

    Exceptions propagate: the caller fails closed.
    """
    ctx = context()
    suite = _stored(ctx, suite)
    try:
        result = _batch(ctx, asset_name, frame).validate(suite, result_format=RESULT_FORMAT)
    finally:
        _forget_batches(ctx)
    shown = showable if showable is not None else showable_columns(frame)
    return _keep(ctx, suite, result, len(frame), asset_name, run_name, shown, notes)


# Expectations whose unexpected rows depend on other rows: the columns whose equal values must
# meet in one part. Every other expectation of a chunked suite must be one row at a time.
KEYED_EXPECTATIONS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "expect_compound_columns_to_be_unique": lambda kwargs: list(kwargs["column_list"]),
    "expect_column_values_to_be_unique": lambda kwargs: [kwargs["column"]],
}
ROW_BY_ROW = ("expect_column_values_to_", "expect_column_pair_values_",
              "expect_multicolumn_values_", "expect_select_column_values_")


def run_suite_in_parts(
    suite: Any,
    chunks: Iterable[pd.DataFrame],
    key_parts: Callable[[list[str]], Iterable[pd.DataFrame]],
    *,
    asset_name: str,
    run_name: str,
    codes: Iterable[str] = (),
    showable: set[str] | None = None,
    notes: list[str] | None = None,
) -> CheckResult:
    """Like :func:`run_suite` on the concatenation of ``chunks``, in memory bounded by a part.

    Row-by-row expectations run on each chunk; each keyed expectation (uniqueness) runs on the
    parts ``key_parts(columns)`` yields, in which rows with equal values of those columns always
    meet. Every frame's index is its rows' position in the whole (unexpected rows and samples
    are listed in that order). The parts' results are combined into one result per expectation,
    as GX reports it for the whole frame; the stored result and Data Docs look the same.
    """
    ctx, suite, validation, rows, shown = _in_parts(suite, chunks, key_parts, asset_name,
                                                    codes, showable)
    return _keep(ctx, suite, validation, rows, asset_name, run_name, shown, notes)


def run_suite_narrowed(
    suite: Any,
    chunks: Iterable[pd.DataFrame],
    key_parts: Callable[[list[str]], Iterable[pd.DataFrame]],
    whole: Whole,
    *,
    asset_name: str,
    run_name: str,
    codes: Iterable[str] = (),
    notes: list[str] | None = None,
) -> CheckResult:
    """:func:`run_suite_in_parts` on frames that hold only some rows of ``whole``, among them
    every row any expectation could find unexpected (:meth:`quality.batches.Batch.narrowing`):
    each result counts the whole's rows and missing values, and is otherwise GX's own."""
    ctx, suite, validation, seen, shown = _in_parts(suite, chunks, key_parts, asset_name,
                                                    codes, None, whole.widened)
    told = [*(notes or []), f"GX validated {seen:,} of {whole.rows:,} rows one by one: the first "
            "and those SQL flagged for an expectation; the others are counted"]
    return _keep(ctx, suite, validation, whole.rows, asset_name, run_name, shown, told)


def _in_parts(suite: Any, chunks: Iterable[pd.DataFrame],
              key_parts: Callable[[list[str]], Iterable[pd.DataFrame]], asset_name: str,
              codes: Iterable[str], showable: set[str] | None,
              widen: Callable[[Any], Any] | None = None
              ) -> tuple[Any, Any, Any, int, set[str]]:
    """The stored suite's combined validation of the parts (see :func:`run_suite_in_parts`),
    each combined result passed through ``widen`` if given, with the context, the rows
    validated and the columns whose values may be shown."""
    ctx = context()
    suite = _stored(ctx, suite)
    keyed = _keyed_columns(suite)
    template: Any = None
    parts: list[list[Any]] = [[] for _ in suite.expectations]
    rows, shown = 0, set()
    try:
        for chunk in chunks:
            if template is None:
                shown = showable if showable is not None else showable_columns(chunk, codes)
            rows += len(chunk)
            template = _batch(ctx, asset_name, chunk).validate(suite,
                                                               result_format=RESULT_FORMAT)
            for i, r in enumerate(template.results):
                if i not in keyed:
                    parts[i].append(r)
        if template is None:
            raise ValueError(f"{asset_name}: no rows to validate in parts")
        for i, columns in keyed.items():
            for part in key_parts(columns):
                parts[i].append(_batch(ctx, asset_name, part).validate(
                    suite.expectations[i], result_format=RESULT_FORMAT))
    finally:
        _forget_batches(ctx)
    template.results = [_combined(p) for p in parts]
    if widen is not None:
        template.results = [widen(r) for r in template.results]
    _restate(template)
    return ctx, suite, template, rows, shown


def expectation_key(expectation_type: str, kwargs: dict[str, Any]) -> str:
    """One expectation of a suite, by type and arguments (a result names its expectation so,
    with the batch it ran on besides)."""
    plain = {k: v for k, v in kwargs.items() if k != "batch_id"}
    return json.dumps([expectation_type, _plain(plain)], sort_keys=True)


@dataclass(frozen=True)
class Whole:
    """The whole a narrowed validation stands for: its rows, and per expectation
    (:func:`expectation_key`) the rows GX counts as missing in it. The rows left out hold no
    unexpected value, so what they add to a result is their count and their missing values."""

    rows: int
    missing: dict[str, int]

    def widened(self, result: Any) -> Any:
        """``result`` (on the validated rows) as the whole's: element and missing counts of the
        whole, percentages and success recomputed as GX computes them."""
        res = dict(result.result or {})
        if (result.exception_info or {}).get("raised_exception") or "element_count" not in res:
            return result
        config = result.expectation_config
        res["element_count"] = self.rows
        if "missing_count" in res:
            res["missing_count"] = self.missing[expectation_key(config.type, config.kwargs)]
        return _counted(result, res, bool(result.success))


def _keyed_columns(suite: Any) -> dict[int, list[str]]:
    """The columns each keyed expectation (by position) groups by; any other expectation must
    be row by row, or the suite cannot be validated in parts."""
    keyed: dict[int, list[str]] = {}
    for i, expectation in enumerate(suite.expectations):
        kind = expectation.expectation_type
        if kind in KEYED_EXPECTATIONS:
            keyed[i] = KEYED_EXPECTATIONS[kind](expectation.configuration.kwargs)
        elif not kind.startswith(ROW_BY_ROW):
            raise ValueError(f"{suite.name}: {kind} cannot be validated in parts; add it to "
                             "KEYED_EXPECTATIONS in quality/gx.py with the columns it groups by")
    return keyed


def _restate(validation: Any) -> None:
    """A validation's success and statistics from its (combined) results, as GX computes them."""
    evaluated = len(validation.results)
    met = sum(bool(r.success) for r in validation.results)
    validation.success = met == evaluated
    validation.statistics.update({
        "evaluated_expectations": evaluated,
        "successful_expectations": met,
        "unsuccessful_expectations": evaluated - met,
        "success_percent": met / evaluated * 100 if evaluated else None,
    })


_SUMMED = ("element_count", "missing_count", "unexpected_count")


def _percent(part: float, whole: float) -> float | None:
    return part / whole * 100 if whole > 0 else None


def _combined(parts: list[Any]) -> Any:
    """One expectation's result on the whole, from its results on parts (GX's own formulas for
    map expectations: percentages of all and of non-missing rows, the first unexpected rows)."""
    first = parts[0]
    if len(parts) == 1:
        return first
    failed = next((p for p in parts if (p.exception_info or {}).get("raised_exception")), None)
    if failed is not None:
        return failed
    res = dict(first.result or {})
    for key in _SUMMED:
        if key in res:
            res[key] = sum((p.result or {}).get(key) or 0 for p in parts)
    if "partial_unexpected_index_list" in res:
        # Each part lists its first unexpected rows; the whole's first are the first of those.
        found = sorted(
            (index, value)
            for p in parts
            for index, value in zip((p.result or {}).get("partial_unexpected_index_list") or [],
                                    (p.result or {}).get("partial_unexpected_list") or [],
                                    strict=False)
        )[:SAMPLE_VALUES]
        res["partial_unexpected_index_list"] = [index for index, _ in found]
        res["partial_unexpected_list"] = [value for _, value in found]
    elif "partial_unexpected_list" in res:
        res["partial_unexpected_list"] = [
            v for p in parts for v in (p.result or {}).get("partial_unexpected_list") or []
        ][:SAMPLE_VALUES]
    if "partial_unexpected_counts" in res:
        res["partial_unexpected_counts"] = _value_counts(res.get("partial_unexpected_list") or [])
    return _counted(first, res, all(p.success for p in parts))


def _counted(first: Any, res: dict[str, Any], success_otherwise: bool) -> Any:
    """A result like ``first`` with the counts in ``res``: its percentages and success as GX
    computes them for map expectations (``success_otherwise`` for a result without counts)."""
    elements, missing = res.get("element_count", 0), res.get("missing_count", 0)
    unexpected = res.get("unexpected_count", 0)
    nonmissing = elements - missing
    for key, value in (("missing_percent", _percent(missing, elements)),
                       ("unexpected_percent", _percent(unexpected, nonmissing)),
                       ("unexpected_percent_total", _percent(unexpected, elements)),
                       ("unexpected_percent_nonmissing", _percent(unexpected, nonmissing))):
        if key in res:
            res[key] = value
    mostly = first.expectation_config.kwargs.get("mostly", 1)
    success = (nonmissing == 0 or (nonmissing - unexpected) / nonmissing >= mostly) \
        if "unexpected_count" in res else success_otherwise
    return type(first)(success=success, expectation_config=first.expectation_config,
                       result=res, meta=first.meta, exception_info=first.exception_info)


def _value_counts(values: list[Any]) -> list[dict[str, Any]]:
    """GX's ``partial_unexpected_counts`` of the listed unexpected values."""
    hashable = [tuple(v.values()) if isinstance(v, dict) else
                tuple(v) if isinstance(v, list) else v for v in values]
    try:
        return [{"value": value, "count": count} for value, count in sorted(
            Counter(hashable).most_common(SAMPLE_VALUES), key=lambda x: (-x[1], x[0]))]
    except TypeError:
        return [{"error": "partial_exception_counts requires a hashable type"}]


def _stored(ctx: Any, suite: Any) -> Any:
    if isinstance(suite, SuiteBuilder):
        suite = suite.build()
    return ctx.suites.add_or_update(suite)


def _keep(ctx: Any, suite: Any, result: Any, rows: int, asset_name: str, run_name: str,
          shown: set[str], notes: list[str] | None) -> CheckResult:
    """Scrub, store and render one validation result; record it in the offline index."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    failed = _scrub(result, shown)
    run_time = dt.datetime.now(dt.UTC)
    vid = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=RunIdentifier(run_name=run_name, run_time=run_time),
        batch_identifier=asset_name,
    )
    ctx.validation_results_store.set(vid, result)
    ctx.build_data_docs(resource_identifiers=[vid, ExpectationSuiteIdentifier(name=suite.name)],
                        build_index=False)
    page = paths.data_docs_dir().joinpath("validations", *vid.to_tuple()).with_suffix(".html")
    outcome = CheckResult(
        check_name=suite.name,
        passed=bool(result.success),
        rows=rows,
        evaluated=len(result.results),
        failed=failed,
        notes=list(notes or []),
        page=str(page) if page.exists() else None,
    )
    _untrack(page, paths.data_docs_dir() / "expectations" / f"{suite.name}.html")
    record_in_index(outcome, run_name, run_time, vid.to_tuple())
    return outcome


_TRACKING = re.compile(r"https://great-expectations-web-assets\.s3[^\"')]*")


def _untrack(*pages: Path) -> None:
    """Point GX's remote logo (URL with the context id) at the local copy."""
    root = paths.data_docs_dir()
    for page in pages:
        if not page.exists():
            continue
        text = page.read_text(encoding="utf-8")
        rel = os.path.relpath(root / "static" / "images" / "logo-long.png", page.parent)
        page.write_text(_TRACKING.sub(rel, text), encoding="utf-8")


def _recorded_runs() -> dict[str, list[dict[str, Any]]]:
    """``data_docs/runs.json``: per suite, its latest results first."""
    log_file = paths.data_docs_dir() / "runs.json"
    return json.loads(log_file.read_text(encoding="utf-8")) if log_file.exists() else {}


def results_of_run(run_name: str) -> dict[str, dict[str, Any]]:
    """Each suite's latest result recorded by :func:`record_in_index` in one run."""
    return {
        suite: next(e for e in entries if e["run"] == run_name)
        for suite, entries in _recorded_runs().items()
        if any(e["run"] == run_name for e in entries)
    }


def record_in_index(result: CheckResult, run_name: str, run_time: dt.datetime,
                    key: tuple[str, ...] | None = None) -> None:
    """Add a result to ``data_docs/runs.json``, drop the oldest beyond the limit, and rewrite
    the offline ``index.html``. Results without a GX page (skipped suites) are listed too."""
    root = paths.data_docs_dir()
    root.mkdir(parents=True, exist_ok=True)
    log_file = root / "runs.json"
    runs = _recorded_runs()
    entries = runs.setdefault(result.check_name, [])
    entries.insert(0, {
        "run": run_name,
        "time": run_time.isoformat(timespec="seconds"),
        "success": result.success,
        "rows": result.rows,
        "evaluated": result.evaluated,
        "failed": [f"{f['expectation']}({','.join(f['columns'])}): "
                   f"{f.get('unexpected_count', '?')}" for f in result.failed],
        "notes": result.notes,
        "page": os.path.relpath(result.page, root) if result.page else None,
        "key": list(key) if key else None,
    })
    for old in entries[KEEP_RESULTS_PER_SUITE:]:
        _forget(old)
    del entries[KEEP_RESULTS_PER_SUITE:]
    write_text_atomically(log_file, json.dumps(runs, indent=1))
    write_text_atomically(root / "index.html", _index_html(runs))


def _forget(entry: dict[str, Any]) -> None:
    """Remove a dropped result from the GX store and its page from the docs."""
    if not entry.get("key"):
        return
    from great_expectations.data_context.types.resource_identifiers import (
        ValidationResultIdentifier,
    )

    try:
        context().validation_results_store.remove_key(
            ValidationResultIdentifier.from_tuple(tuple(entry["key"]))
        )
    except Exception as exc:  # noqa: BLE001 - pruning is housekeeping; must not fail a check
        log.warning("could not remove an old validation result: %r", exc)
    if entry.get("page"):
        page = paths.data_docs_dir() / entry["page"]
        page.unlink(missing_ok=True)
        for parent in list(page.parents)[:2]:
            if parent.exists() and not any(parent.iterdir()):
                shutil.rmtree(parent, ignore_errors=True)


def _index_html(runs: dict[str, list[dict[str, Any]]]) -> str:
    esc = html.escape
    rows = []
    for suite in sorted(runs):
        for i, e in enumerate(runs[suite]):
            status = "passed" if e["success"] else "FAILED"
            link = (
                f'<a href="{esc(e["page"])}">{esc(e["time"])}</a>' if e["page"] else esc(e["time"])
            )
            detail = "; ".join(e["failed"] + e["notes"])
            cls = "latest" if i == 0 else "older"
            rows.append(
                f'<tr class="{cls} {status.lower()}"><td>{esc(suite)}</td><td>{link}</td>'
                f'<td>{status}</td><td>{e["rows"]}</td><td>{e["evaluated"]}</td>'
                f'<td>{esc(e["run"])}</td><td>{esc(detail)}</td></tr>'
            )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Datenwerk data quality</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}"
        "tr.failed td{background:#fdd}tr.older{color:#666}</style></head><body>"
        "<h1>Datenwerk data quality</h1>"
        "<p>Great Expectations suites on every incoming batch (<code>gx_batch_*</code>) and every "
        "mart (<code>gx_*</code>), newest first per suite; each time links to its Data Docs page. "
        "Failed expectations show counts; values only for codes and numbers.</p>"
        "<table><tr><th>suite</th><th>validated (UTC)</th><th>result</th><th>rows</th>"
        "<th>expectations</th><th>Dagster run</th><th>failed expectations / notes</th></tr>"
        + "".join(rows) + "</table></body></html>\n"
    )
