"""Reading one case-management export file into the standard, as Arrow, with quarantine.

Everything here is columnar (Arrow compute): no Python loop over rows. Direct identifiers are
dropped the moment the file is parsed, and person identifiers are pseudonymised before a table
leaves this module, so nothing personal reaches dlt's load packages, logs or the quarantine.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ingestion.delivery import FileOutcome, FileRejected, relative_to_inbox
from ingestion.pseudonymise import pseudonymise_array
from ingestion.standard import DERIVED_TYPES, EntityMapping, EntitySpec, FieldSpec, Profile

UTF8_BOM = b"\xef\xbb\xbf"


def _encoding_for(path: Path, declared: str) -> str:
    with path.open("rb") as fh:
        head = fh.read(3)
    # A BOM says UTF-8 whatever the profile claims; 'utf-8-sig' strips it from the first name.
    return "utf-8-sig" if head == UTF8_BOM else declared


def read_strings(path: Path, encoding: str, delimiter: str) -> tuple[pa.Table, list[str]]:
    """Read a delimited file with every column as text; empty cells become null.

    Returns the table and the physical line number of each record's first line (records may span
    lines when a quoted value holds a line break).
    """
    encoding = _encoding_for(path, encoding)
    try:
        with path.open("r", encoding=encoding, newline="") as fh:
            header = next(csv.reader(io.StringIO(fh.readline()), delimiter=delimiter), [])
    except UnicodeDecodeError as exc:
        raise FileRejected(path, f"cannot be decoded as {encoding}: {exc.reason}") from exc
    names = [h.strip().lstrip("\ufeff") for h in header]
    if not any(names):
        raise FileRejected(path, "the file is empty (no header line)")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise FileRejected(path, f"is not a readable '{delimiter}'-delimited file: {exc}") from exc
    return table, names


def physical_lines(table: pa.Table) -> pa.Array:
    """Line number of each record: header is line 1; embedded line breaks push later records."""
    n = table.num_rows
    extra = pa.array([0] * n, pa.int64()) if n else pa.array([], pa.int64())
    for col in table.columns:
        breaks = pc.fill_null(pc.count_substring(col, "\n"), 0).cast(pa.int64())
        extra = pc.add(extra, breaks)
    before = pc.subtract(pc.cumulative_sum(extra), extra)
    return pc.add(pa.array(range(2, n + 2), pa.int64()), before)


class _Checker:
    """Marks each bad row once, with the first problem found, in the order checks run."""

    def __init__(self, n: int) -> None:
        self.bad = pa.array([False] * n, pa.bool_())
        self.reasons: list[tuple[pa.Array, str, str, pa.Array | None]] = []

    def mark(self, mask: pa.Array, field: str, reason: str, values: pa.Array | None) -> None:
        mask = pc.and_(pc.fill_null(mask, False), pc.invert(self.bad))
        if pc.any(mask).as_py():
            self.reasons.append((mask, field, reason, values))
            self.bad = pc.or_(self.bad, mask)


def _parse_dates(raw: pa.Array, formats: tuple[str, ...]) -> pa.Array:
    """Strict dates: Arrow's strptime rolls 31.02. over into March, so a parse only counts when
    formatting the date again gives back the text (days and months may lack a leading zero)."""
    padded = pc.replace_substring_regex(raw, r"^(\d)\.", r"0\1.")
    padded = pc.replace_substring_regex(padded, r"\.(\d)\.", r".0\1.")
    parsed = pa.nulls(len(raw), pa.date32())
    for fmt in (*formats, "%Y-%m-%d"):
        attempt = pc.strptime(padded, format=fmt, unit="s", error_is_null=True).cast(pa.date32())
        exact = pc.equal(pc.strftime(attempt.cast(pa.timestamp("s")), format=fmt), padded)
        attempt = pc.if_else(pc.fill_null(exact, False), attempt, pa.nulls(len(raw), pa.date32()))
        parsed = pc.coalesce(parsed, attempt)
    return parsed


def _parse_number(raw: pa.Array, decimal: str, integer: bool) -> pa.Array:
    text = raw
    if decimal == ",":
        text = pc.replace_substring(text, ".", "")  # thousands separator
        text = pc.replace_substring(text, ",", ".")
    pattern = r"^[+-]?\d+$" if integer else r"^[+-]?\d+(\.\d+)?$"
    ok = pc.match_substring_regex(text, pattern)
    text = pc.if_else(ok, text, pa.nulls(len(text), pa.string()))
    return text.cast(pa.int64() if integer else pa.float64())


def _map_codes(raw: pa.Array, spec: FieldSpec, value_map: dict[str, str]) -> pa.Array:
    """Vendor labels -> standard codes; standard codes pass as they are; others become null."""
    pairs = {**{c: c for c in spec.codes}, **value_map}
    keys = pa.array(list(pairs), pa.string())
    vals = pa.array(list(pairs.values()), pa.string())
    return pc.take(vals, pc.index_in(raw, value_set=keys))


def parse_export(
    path: Path,
    profile: Profile,
    mapping: EntityMapping,
    spec: EntitySpec,
    outcome: FileOutcome,
    context_columns: dict[str, str],
) -> pa.Table:
    """Parse one export file into the standard's columns; bad rows go to ``outcome.quarantine``.

    Raises :class:`FileRejected` for problems of the whole file.
    """
    table, names = read_strings(path, profile.encoding, profile.delimiter)
    missing = [
        f"'{col}' (for {fld})"
        for fld, col in mapping.columns.items()
        if spec.fields[fld].required and col not in names
    ]
    if missing:
        raise FileRejected(
            path,
            f"required column(s) {', '.join(missing)} missing for {spec.name} "
            f"(profile {profile.name}); the header has: {', '.join(names)}",
        )
    n = table.num_rows
    lines = physical_lines(table)
    outcome.rows_read = n
    # Only mapped columns go on; personal and unexpected columns end here, unread.
    raw: dict[str, pa.Array] = {
        fld: pc.utf8_trim_whitespace(table.column(col).combine_chunks())
        for fld, col in mapping.columns.items()
        if col in names
    }
    del table
    checks = _Checker(n)
    typed: dict[str, pa.Array] = {}
    for name, fspec in spec.fields.items():
        values = raw.get(name, pa.nulls(n, pa.string()))
        shown = None if (fspec.personal or fspec.pseudonymise) else values
        if fspec.required:
            checks.mark(pc.is_null(values), name, "missing required value", None)
        if fspec.type == "date":
            parsed = _parse_dates(values, profile.date_formats)
            checks.mark(
                pc.and_(pc.is_valid(values), pc.is_null(parsed)),
                name,
                "not a valid date (expected DD.MM.YYYY or YYYY-MM-DD)",
                shown,
            )
        elif fspec.type in ("integer", "decimal"):
            parsed = _parse_number(values, profile.decimal, fspec.type == "integer")
            checks.mark(pc.and_(pc.is_valid(values), pc.is_null(parsed)), name, "not a number", shown)
            if fspec.minimum is not None:
                checks.mark(pc.less(parsed, fspec.minimum), name, f"below {fspec.minimum}", shown)
            if fspec.maximum is not None:
                checks.mark(pc.greater(parsed, fspec.maximum), name, f"above {fspec.maximum}", shown)
        elif fspec.codes:
            if fspec.default is not None:
                values = pc.fill_null(values, fspec.default)
            parsed = _map_codes(values, fspec, mapping.values.get(name, {}))
            checks.mark(
                pc.and_(pc.is_valid(values), pc.is_null(parsed)),
                name,
                f"unknown code (allowed: {', '.join(sorted(mapping.values.get(name, {}) or fspec.codes))})",
                shown,
            )
        else:
            parsed = values
        typed[name] = parsed
    for rule in spec.rules:
        ok = _evaluate_rule(rule.check, typed)
        checks.mark(pc.invert(ok), rule.field, rule.reason, None)
    _mark_duplicate_keys(spec, typed, checks, n)

    good = pc.invert(checks.bad)
    for mask, fld, reason, values in checks.reasons:
        outcome.quarantine.append(
            pa.table(
                {
                    "source_file": pa.array([relative_to_inbox(path)] * _count(mask), pa.string()),
                    "source_sha256": pa.array([outcome.sha256] * _count(mask), pa.string()),
                    "entity": pa.array([spec.name] * _count(mask), pa.string()),
                    "source_line": lines.filter(mask),
                    "field": pa.array([fld] * _count(mask), pa.string()),
                    "reason": pa.array([reason] * _count(mask), pa.string()),
                    "offending_value": (
                        values.filter(mask).cast(pa.string())
                        if values is not None
                        else pa.nulls(_count(mask), pa.string())
                    ),
                }
            )
        )

    columns: dict[str, pa.Array] = {
        k: pa.array([v] * n, pa.string()).filter(good) for k, v in context_columns.items()
    }
    for name, fspec in spec.fields.items():
        values = typed[name].filter(good)
        for out, how in fspec.derive.items():
            columns[out] = _derive(values, how)
        if fspec.personal:
            continue
        columns[name] = pseudonymise_array(values) if fspec.pseudonymise else values
    columns["source_file"] = pa.array([relative_to_inbox(path)] * n, pa.string()).filter(good)
    columns["source_line"] = lines.filter(good)
    columns["source_sha256"] = pa.array([outcome.sha256] * n, pa.string()).filter(good)
    result = pa.table(columns)
    outcome.rows_loaded = result.num_rows
    return result


def _count(mask: pa.Array) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def _derive(values: pa.Array, how: str) -> pa.Array:
    if how == "year":
        return pc.year(values).cast(DERIVED_TYPES[how])
    if how == "postcode_region":
        five_digits = pc.match_substring_regex(values, r"^\d{5}$")
        region = pc.utf8_slice_codeunits(values, 0, 3)
        return pc.if_else(five_digits, region, pa.nulls(len(values), pa.string()))
    raise ValueError(f"unknown derivation {how}")


def _evaluate_rule(check: str, typed: dict[str, pa.Array]) -> pa.Array:
    """Rules compare fields; a comparison with an empty field passes (required-ness is separate)."""
    results = []
    for clause in check.split(" and "):
        left, op, right = clause.split()
        fn = {">=": pc.greater_equal, "<=": pc.less_equal, ">": pc.greater, "<": pc.less}[op]
        results.append(pc.fill_null(fn(typed[left], typed[right]), True))
    ok = results[0]
    for r in results[1:]:
        ok = pc.and_(ok, r)
    return ok


def _mark_duplicate_keys(
    spec: EntitySpec, typed: dict[str, pa.Array], checks: _Checker, n: int
) -> None:
    """The first row with a key wins; later rows with the same key in the same file are quarantined."""
    if n == 0:
        return
    keys = pa.table({**{k: typed[k] for k in spec.key}, "_row": pa.array(range(n), pa.int64())})
    first = keys.group_by(list(spec.key), use_threads=False).aggregate([("_row", "min")])
    is_first = pc.is_in(keys.column("_row"), value_set=first.column("_row_min"))
    checks.mark(pc.invert(is_first), spec.key[0], "duplicate key within the file", None)
