"""Reading one case-management export into the standard, with DuckDB doing the work.

One pass of DuckDB's parallel CSV reader (or python-calamine for ``.xlsx``) feeds a set-based SQL
mapping: types, codes, rules and duplicate keys are checked in SQL, no Python loop touches a row.
Only the columns the profile maps are ever materialised: names, addresses, notes and every
unexpected column stay inside the reader and are gone when the query ends. Person identifiers are
pseudonymised before a table leaves this module, so nothing personal reaches dlt, logs or the
quarantine.

Line numbers (``source_line``) count rows as a spreadsheet shows them: the header is row 1 and a
quoted value with a line break stays in its row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.delivery import FileOutcome, FileRejected, relative_to_inbox
from ingestion.pseudonymise import pseudonymise_array
from ingestion.standard import EntityMapping, EntitySpec, FieldSpec, Profile
from warehouse import paths

UTF8_BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 1 << 16
# Rows per Arrow batch: large enough for vectorised work, small enough to keep one batch cheap.
BATCH_ROWS = 500_000
# DuckDB's reject kinds in the words a data steward understands.
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields in this row",
    "TOO MANY COLUMNS": "too many fields in this row",
    "UNQUOTED VALUE": "a quote character inside an unquoted value",
    "LINE SIZE OVER MAXIMUM": "the row is longer than allowed",
    "INVALID ENCODING": "characters that are not valid in the file's encoding",
    "INVALID STATE": "the row cannot be read (unbalanced quotes)",
    "CAST": "a value cannot be read",
}


@dataclass
class Header:
    """What the first line of an export says: column names, delimiter, encoding to read with."""

    names: list[str]
    delimiter: str
    encoding: str
    is_excel: bool = False
    unexpected: list[str] = field(default_factory=list)


def _sniff(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def read_header(path: Path, profile: Profile) -> Header:
    """Column names of an export without reading its rows; rejects files that are no text table."""
    if path.suffix.lower() == ".xlsx":
        return Header(_excel_frame(path, nrows=0).column_names, "", "xlsx", is_excel=True)
    head = _sniff(path)
    if not head.strip():
        raise FileRejected(path, "the file is empty")
    if b"\x00" in head:
        raise FileRejected(path, "binary data, not a text export (contains NUL bytes)")
    encoding = "utf-8" if head.startswith(UTF8_BOM) or _looks_utf8(head) else profile.encoding
    first = head.split(b"\n", 1)[0].removeprefix(UTF8_BOM).rstrip(b"\r")
    try:
        text = first.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileRejected(path, f"the header cannot be decoded as {encoding}: {exc.reason}") from exc
    # The profile's delimiter first; ',' and ';' both occur in the wild (Excel by locale).
    counts = {d: text.count(d) for d in (profile.delimiter, ";", ",", "\t")}
    delimiter = profile.delimiter if counts[profile.delimiter] else max(counts, key=counts.get)  # type: ignore[arg-type]
    names = [n.strip().lstrip("\ufeff") for n in next(csv.reader(io.StringIO(text), delimiter=delimiter))]
    if len(names) < 2:
        raise FileRejected(path, f"the header has no '{profile.delimiter}'-separated columns")
    return Header(names, delimiter, encoding)


def _looks_utf8(head: bytes) -> bool:
    """A sample with non-ASCII bytes that decodes as UTF-8 is UTF-8: a Windows-1252 umlaut alone
    (0xF6 for ö) is never valid UTF-8. Pure ASCII samples are read as UTF-8 too; should a later
    byte prove otherwise, the file is read again in the profile's encoding."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut off at the end of the sample
    return True


def _excel_frame(path: Path, nrows: int | None = None) -> pa.Table:
    """The first sheet of a workbook as text columns (python-calamine: fast, no row loop here)."""
    from python_calamine import CalamineWorkbook

    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False, nrows=None if nrows is None else nrows + 1)
    except Exception as exc:
        raise FileRejected(path, f"not a readable .xlsx workbook: {exc}") from exc
    if not rows:
        raise FileRejected(path, "the workbook's first sheet is empty")
    names = [str(n).strip() for n in rows[0]]
    columns = list(zip(*rows[1:], strict=False)) if len(rows) > 1 else [()] * len(names)
    return pa.table(
        {n: pa.array([_cell_text(v) for v in col], pa.string()) for n, col in zip(names, columns, strict=False)}
    )


def _cell_text(value: object) -> str | None:
    """Excel cells as the text a CSV export would hold (dates ISO, whole numbers without .0)."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()[:10]
    return str(value)


@contextlib.contextmanager
def _utf8_source(path: Path, header: Header) -> Iterator[Path]:
    """A path DuckDB can read. UTF-8 files are read in place; Windows-1252 is transcoded into a
    temporary copy in the protected folder (it holds personal data) and deleted afterwards."""
    if header.is_excel or header.encoding.replace("_", "-").lower() in ("utf-8", "utf8", "utf-8-sig"):
        yield path
        return
    tmp = paths.protected_dir("tmp") / f"{uuid.uuid4().hex}.csv"
    try:
        with path.open("r", encoding=header.encoding, newline="") as src, tmp.open(
            "w", encoding="utf-8", newline=""
        ) as dst:
            while chunk := src.read(1 << 24):
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        tmp.unlink(missing_ok=True)
        raise FileRejected(
            path, f"cannot be decoded as {header.encoding} at byte {exc.start}: {exc.reason}"
        ) from exc
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _typed_sql(name: str, fspec: FieldSpec, mapping: EntityMapping, profile: Profile) -> str:
    raw = f"raw_{name}"
    if fspec.type == "date":
        formats = ", ".join(_lit(f) for f in (*profile.date_formats, "%Y-%m-%d"))
        return f"cast(try_strptime({raw}, [{formats}]) as date)"
    if fspec.type in ("integer", "decimal"):
        text = raw
        if profile.decimal == ",":
            text = f"replace(replace({raw}, '.', ''), ',', '.')"
        if fspec.type == "integer":
            return f"case when regexp_full_match({text}, '[+-]?[0-9]+') then cast({text} as bigint) end"
        return f"case when regexp_full_match({text}, '[+-]?[0-9]+([.][0-9]+)?') then cast({text} as double) end"
    if fspec.codes:
        pairs = {**{c: c for c in fspec.codes}, **mapping.values.get(name, {})}
        whens = " ".join(f"when {_lit(k)} then {_lit(v)}" for k, v in pairs.items())
        source = f"coalesce({raw}, {_lit(fspec.default)})" if fspec.default else raw
        return f"case {source} {whens} end"
    return raw


def _checks_sql(spec: EntitySpec, profile: Profile, mapping: EntityMapping) -> list[tuple[str, str, str, str | None]]:
    """(condition that marks a row bad, field, reason, offending-value expression) in check order."""
    checks: list[tuple[str, str, str, str | None]] = []
    for name, fspec in spec.fields.items():
        raw = f"raw_{name}"
        shown = None if (fspec.personal or fspec.pseudonymise) else raw
        if fspec.required:
            checks.append((f"{raw} is null", name, "missing required value", None))
        if fspec.type == "date":
            checks.append(
                (f"{raw} is not null and {name} is null", name,
                 "not a valid date (expected DD.MM.YYYY or YYYY-MM-DD)", shown)
            )
        elif fspec.type in ("integer", "decimal"):
            checks.append((f"{raw} is not null and {name} is null", name, "not a number", shown))
            if fspec.minimum is not None:
                checks.append((f"{name} < {fspec.minimum}", name, f"below {fspec.minimum}", shown))
            if fspec.maximum is not None:
                checks.append((f"{name} > {fspec.maximum}", name, f"above {fspec.maximum}", shown))
        elif fspec.codes:
            allowed = ", ".join(sorted(mapping.values.get(name, {}) or fspec.codes))
            checks.append(
                (f"{raw} is not null and {name} is null", name, f"unknown code (allowed: {allowed})", shown)
            )
    for rule in spec.rules:
        condition = " and ".join(f"{c}" for c in rule.check.split(" and "))
        checks.append((f"not coalesce({condition}, true)", rule.field, rule.reason, None))
    checks.append(("is_duplicate", spec.key[0], "duplicate key within the file", None))
    return checks


def _record_lines(rn: np.ndarray, reject_ordinals: np.ndarray) -> np.ndarray:
    """Spreadsheet row of each accepted record, given the ordinals of rejected records.

    ``rn`` numbers accepted records 1, 2, ...; rejected records took ordinals in between.
    """
    rejects = np.sort(reject_ordinals)
    accepted_before = rejects - 1 - np.arange(len(rejects))
    shift = np.searchsorted(accepted_before, rn - 1, side="right")
    return rn + shift + 1  # +1: the header is row 1


class _NotThisEncoding(Exception):
    """DuckDB found bytes that are not valid in the encoding the file was read with."""


def _run_sql(
    path: Path,
    header: Header,
    profile: Profile,
    mapping: EntityMapping,
    spec: EntitySpec,
    present: dict[str, str],
) -> tuple[pa.Table, list[tuple], list[tuple], list[tuple[str, str, str, str | None]]]:
    """Read, type and check an export in DuckDB: accepted rows (Arrow), rejected rows, reader
    rejects and the checks (so reasons can be named)."""
    names = header.names
    with duckdb.connect() as con, _utf8_source(path, header) as source:
        con.execute(f"set temp_directory = {_lit(str(paths.protected_dir('tmp')))}")
        if header.is_excel:
            con.register("src", _excel_frame(path))
            relation = "src"
            reject_rows: list[tuple[int, str | None, str]] = []
        else:
            columns = "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"
            relation = (
                f"read_csv({_lit(str(source))}, delim={_lit(header.delimiter)}, quote='\"', "
                f"escape='\"', header=true, auto_detect=false, columns={columns}, "
                "store_rejects=true, rejects_table='rejects', rejects_scan='reject_scans', "
                "null_padding=false, strict_mode=true, max_line_size=10000000)"
            )
        raw_cols = ", ".join(
            f"nullif(trim({_q(col)}), '') as raw_{fld}" for fld, col in present.items()
        )
        absent = ", ".join(f"null::varchar as raw_{f}" for f in spec.fields if f not in present)
        select_raw = ", ".join(p for p in (raw_cols, absent) if p)
        try:
            con.execute(
                f"create temp table parsed as select row_number() over () as rn, {select_raw} "
                f"from {relation}"
            )
        except duckdb.Error as exc:
            raise FileRejected(path, f"cannot be read as a '{header.delimiter}'-delimited file: {exc}") from exc
        if not header.is_excel:
            reject_rows = con.execute(
                # One row may be reported once per missing column: one quarantine row per line.
                "select line, arg_min(column_name, column_idx), arg_min(error_type::varchar, column_idx) "
                "from rejects group by line order by line"
            ).fetchall()
        if any(r[2] == "INVALID ENCODING" for r in reject_rows):
            raise _NotThisEncoding

        typed = ", ".join(
            f"{_typed_sql(n, f, mapping, profile)} as {n}" for n, f in spec.fields.items()
        )
        # Later rows repeating a key: one hash aggregate, not a window over every row.
        key = ", ".join(f"raw_{k}" for k in spec.key)
        con.execute(
            f"create temp table duplicates as select p.rn from parsed as p join ("
            f"select {key}, min(rn) as first_rn from parsed where raw_{spec.key[0]} is not null "
            f"group by {key} having count(*) > 1) as d using ({key}) where p.rn <> d.first_rn"
        )
        checks = _checks_sql(spec, profile, mapping)
        problem = "case " + " ".join(
            f"when {cond} then {i}" for i, (cond, _, _, _) in enumerate(checks)
        ) + " end"
        shown_whens = " ".join(
            f"when {i} then cast({expr} as varchar)" for i, (_, _, _, expr) in enumerate(checks) if expr
        )
        shown = f"case problem {shown_whens} end" if shown_whens else "null"
        stored = [n for n, f in spec.fields.items() if not f.personal]
        derived = [
            f"{'year(' + n + ')' if how == 'year' else _region_sql(n)} as {out}"
            for n, f in spec.fields.items()
            for out, how in f.derive.items()
        ]
        # One pass: every row with its first problem (if any); Arrow splits good from bad.
        reader = con.sql(
            f"select rn, problem, {shown} as shown, {', '.join([*derived, *stored])} from ("
            f"select *, {problem} as problem from ("
            f"select *, {typed}, rn in (select rn from duplicates) as is_duplicate from parsed))"
        ).to_arrow_reader(BATCH_ROWS)
        # Batch by batch: memory holds the accepted rows once, never a second full copy.
        good: list[pa.RecordBatch] = []
        bad_batches: list[pa.RecordBatch] = []
        for batch in reader:
            is_bad = pc.is_valid(batch.column("problem"))
            bad_batches.append(batch.filter(is_bad).select(["rn", "problem", "shown"]))
            good.append(batch.filter(pc.invert(is_bad)).drop_columns(["problem", "shown"]))
    bad_rows = pa.Table.from_batches(bad_batches, schema=reader.schema.empty_table().select(
        ["rn", "problem", "shown"]).schema).sort_by("rn")
    bad = list(zip(*(bad_rows.column(c).to_pylist() for c in bad_rows.column_names), strict=True))
    return good, bad, reject_rows, checks


def parse_export(
    path: Path,
    profile: Profile,
    mapping: EntityMapping,
    spec: EntitySpec,
    outcome: FileOutcome,
    context_columns: dict[str, str],
    key: bytes | None = None,
) -> pa.Table:
    """Parse one export file into the standard's columns; bad rows go to ``outcome.quarantine``.

    ``key`` is the pseudonymisation key (default: the configured one). Raises
    :class:`FileRejected` for problems of the whole file.
    """
    header = read_header(path, profile)
    names = header.names
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
    known = set(mapping.columns.values()) | set(mapping.personal_columns)
    outcome.unexpected_columns = [n for n in names if n and n not in known]
    present = {fld: col for fld, col in mapping.columns.items() if col in names}

    try:
        good, bad, reject_rows, checks = _run_sql(path, header, profile, mapping, spec, present)
    except _NotThisEncoding:
        if header.encoding == profile.encoding:
            raise FileRejected(path, f"contains bytes that are not valid {header.encoding}") from None
        header.encoding = profile.encoding  # the UTF-8 guess was wrong: read it as declared
        good, bad, reject_rows, checks = _run_sql(path, header, profile, mapping, spec, present)

    n_rows = len(bad) + sum(b.num_rows for b in good) + len(reject_rows)
    outcome.rows_read = n_rows
    reject_ordinals = np.array([r[0] - 1 for r in reject_rows], dtype=np.int64)
    source_file = relative_to_inbox(path)
    if reject_rows:
        outcome.quarantine.append(
            _quarantine(
                source_file, outcome.sha256, spec.name,
                [r[0] for r in reject_rows],
                [_field_of(r[1], mapping) for r in reject_rows],
                [REJECT_REASONS.get(r[2], r[2].lower()) for r in reject_rows],
                [None] * len(reject_rows),
            )
        )
    if bad:
        lines = _record_lines(np.array([b[0] for b in bad], dtype=np.int64), reject_ordinals)
        outcome.quarantine.append(
            _quarantine(
                source_file, outcome.sha256, spec.name, lines.tolist(),
                [checks[b[1]][1] for b in bad], [checks[b[1]][2] for b in bad], [b[2] for b in bad],
            )
        )

    batches = []
    for batch in good:
        n = batch.num_rows
        columns: dict[str, pa.Array] = {k: pa.repeat(v, n).cast(pa.string()) for k, v in context_columns.items()}
        for name in batch.schema.names[1:]:
            values = batch.column(name)
            pseudo = spec.fields.get(name, FieldSpec(name, "string")).pseudonymise
            columns[name] = pseudonymise_array(values, key) if pseudo else values
        columns["source_file"] = pa.repeat(source_file, n).cast(pa.string())
        columns["source_line"] = pa.array(_record_lines(batch.column("rn").to_numpy(), reject_ordinals), pa.int64())
        columns["source_sha256"] = pa.repeat(outcome.sha256, n).cast(pa.string())
        batches.append(pa.RecordBatch.from_pydict(columns))
    result = pa.Table.from_batches(batches) if batches else empty_table(spec, list(context_columns))
    outcome.rows_loaded = result.num_rows
    return result


def empty_table(spec: EntitySpec, context_columns: list[str]) -> pa.Table:
    """No rows, all columns an entity stores: where it came from, the standard's fields, lineage."""
    fields = [pa.field(k, pa.string()) for k in context_columns]
    fields += list(spec.output_schema())
    fields += [pa.field("source_file", pa.string()), pa.field("source_line", pa.int64()),
               pa.field("source_sha256", pa.string())]
    return pa.schema(fields).empty_table()


def _region_sql(column: str) -> str:
    return f"case when regexp_full_match(raw_{column}, '[0-9]{{5}}') then left(raw_{column}, 3) end"


def _field_of(column: str | None, mapping: EntityMapping) -> str:
    """The standard field behind an export column (or the column's own name)."""
    if column is None:
        return "(row)"
    for fld, col in mapping.columns.items():
        if col == column:
            return fld
    return column


def _quarantine(
    source_file: str,
    sha: str,
    entity: str,
    lines: list[int],
    fields: list[str],
    reasons: list[str],
    values: list[str | None],
) -> pa.Table:
    n = len(lines)
    return pa.table(
        {
            "source_file": pa.repeat(source_file, n),
            "source_sha256": pa.repeat(sha, n),
            "entity": pa.repeat(entity, n),
            "source_line": pa.array(lines, pa.int64()),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "offending_value": pa.array(values, pa.string()),
        }
    )
