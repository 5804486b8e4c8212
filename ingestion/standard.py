"""The data standard (``standard_v1.yml``) and the export profiles that map vendor files onto it."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

STANDARD_FILE = Path(__file__).with_name("standard_v1.yml")
PROFILES_DIR = Path(__file__).parent / "case_management" / "profiles"

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
}
DERIVED_TYPES: dict[str, pa.DataType] = {"year": pa.int64(), "postcode_region": pa.string()}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    pseudonymise: bool = False
    personal: bool = False
    codes: tuple[str, ...] = ()
    default: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    derive: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True)
class Rule:
    name: str
    field: str
    check: str
    reason: str


@dataclass(frozen=True)
class EntitySpec:
    name: str
    description: str
    key: tuple[str, ...]
    fields: dict[str, FieldSpec]
    rules: tuple[Rule, ...]

    def output_schema(self) -> pa.Schema:
        """Columns stored for this entity: stored fields and derived ones, never personal ones."""
        cols: list[pa.Field] = []
        for f in self.fields.values():
            if not f.personal:
                cols.append(pa.field(f.name, ARROW_TYPES[f.type]))
            for out, how in f.derive.items():
                cols.append(pa.field(out, DERIVED_TYPES[how]))
        return pa.schema(cols)


@dataclass(frozen=True)
class SpecialCategory:
    """A special category of personal data (GDPR Art. 9): never stored in any form."""

    name: str
    label: str
    column_words: tuple[str, ...]

    def matches(self, column: str) -> bool:
        lowered = column.lower()
        return any(word in lowered for word in self.column_words)


@dataclass(frozen=True)
class EntityMapping:
    """How one entity of the standard is read from a vendor's file.

    ``columns`` maps a field to one export column; ``derived_keys`` builds a field from several
    columns (e.g. client number + start date where the export has no case number); ``constants``
    give a field one value for every row. ``values`` maps a field's texts to stored values (codes,
    program codes, ...), and ``unmapped`` says what a text without a mapping becomes (without it,
    a code field quarantines the row and any other field keeps the text). ``primary`` is false for
    an entity read from a file that belongs to another entity first (a case list also yields its
    clients): its repeated rows are one record, not duplicates.
    """

    entity: str
    file_pattern: str
    columns: dict[str, str]  # standard input name -> export column
    personal_columns: tuple[str, ...]
    values: dict[str, dict[str, str]]
    derived_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)
    primary: bool = True

    def read_columns(self) -> set[str]:
        """Every export column whose values this mapping reads."""
        return set(self.columns.values()) | {c for cols in self.derived_keys.values() for c in cols}

    def source_fields(self) -> set[str]:
        """Fields that get a value from the file or the profile."""
        return set(self.columns) | set(self.derived_keys) | set(self.constants)


@dataclass(frozen=True)
class DepartmentMapping:
    """The department of each row from a column (mapped through ``values``), instead of the
    folder the file arrived in; rows with an empty cell keep the folder's department."""

    column: str
    values: dict[str, str]
    unmapped: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    format: str
    encoding: str
    delimiter: str
    date_formats: tuple[str, ...]
    decimal: str
    entities: dict[str, EntityMapping]
    path: Path
    department: DepartmentMapping | None = None

    def entity_for(self, filename: str) -> EntityMapping | None:
        """The primary entity whose file pattern matches ``filename``."""
        found = self.entities_for(filename)
        return found[0] if found else None

    def entities_for(self, filename: str) -> list[EntityMapping]:
        """Every entity read from a file of this name, the primary one first."""
        return [m for m in self.entities.values()
                if fnmatch.fnmatch(filename.lower(), m.file_pattern.lower())]

    def entities_of(self, mapping: EntityMapping) -> list[EntityMapping]:
        """Every entity read from the same files as ``mapping``, the primary one first."""
        return [m for m in self.entities.values() if m.file_pattern == mapping.file_pattern]


def _field(name: str, raw: dict[str, Any]) -> FieldSpec:
    return FieldSpec(
        name=name,
        type=raw["type"],
        required=bool(raw.get("required", False)),
        pseudonymise=bool(raw.get("pseudonymise", False)),
        personal=bool(raw.get("personal", False)),
        codes=tuple(raw.get("codes", ())),
        default=raw.get("default"),
        minimum=raw.get("min"),
        maximum=raw.get("max"),
        derive=dict(raw.get("derive", {})),
        description=str(raw.get("description", "")),
    )


@lru_cache(maxsize=1)
def special_categories() -> dict[str, SpecialCategory]:
    """The special categories of personal data the standard never stores (GDPR Art. 9)."""
    raw = yaml.safe_load(STANDARD_FILE.read_text(encoding="utf-8"))
    return {
        name: SpecialCategory(name, c["label"], tuple(w.lower() for w in c["column_words"]))
        for name, c in raw.get("special_categories", {}).items()
    }


def special_category_of(column: str) -> SpecialCategory | None:
    """The special category a column's name reveals, if any (``Hauptdiagnose`` -> health)."""
    return next((c for c in special_categories().values() if c.matches(column)), None)


@lru_cache(maxsize=1)
def standard() -> dict[str, EntitySpec]:
    raw = yaml.safe_load(STANDARD_FILE.read_text(encoding="utf-8"))
    return {
        name: EntitySpec(
            name=name,
            description=spec.get("description", ""),
            key=tuple(spec["key"]),
            fields={f: _field(f, v) for f, v in spec["fields"].items()},
            rules=tuple(Rule(**r) for r in spec.get("rules", ())),
        )
        for name, spec in raw["entities"].items()
    }


def _str_map(raw: dict[Any, Any] | None) -> dict[str, str]:
    return {str(a): str(b) for a, b in (raw or {}).items()}


def _refuse_special(path: Path, where: str, column: str) -> None:
    category = special_category_of(column)
    if category is not None:
        raise ValueError(
            f"{path}: {where} reads the column '{column}', which holds {category.label}: a "
            "special category of personal data (GDPR Art. 9) that is never stored, not even "
            "pseudonymised. Remove the mapping and list the column under personal_columns."
        )


def _entity_mapping(
    path: Path, entity: str, m: dict[str, Any], spec: EntitySpec, personal: tuple[str, ...]
) -> EntityMapping:
    mapping = EntityMapping(
        entity=entity,
        file_pattern=m["file_pattern"],
        columns=_str_map(m.get("columns")),
        personal_columns=(*personal, *m.get("personal_columns", ())),
        values={k: _str_map(v) for k, v in (m.get("values") or {}).items()},
        derived_keys={k: tuple(map(str, v)) for k, v in (m.get("derived_keys") or {}).items()},
        constants=_str_map(m.get("constants")),
        unmapped=_str_map(m.get("unmapped")),
    )
    named = (mapping.source_fields() | set(mapping.values) | set(mapping.unmapped))
    unknown = named - set(spec.fields)
    if unknown:
        raise ValueError(f"{path}: {entity} maps unknown standard fields {sorted(unknown)}")
    for fld, columns in (*((f, (c,)) for f, c in mapping.columns.items()),
                         *mapping.derived_keys.items()):
        for column in columns:
            _refuse_special(path, f"{entity}.{fld}", column)
    for fld in (*mapping.values, *mapping.unmapped):
        f = spec.fields[fld]
        if f.pseudonymise or f.personal or f.type != "string":
            raise ValueError(f"{path}: {entity}.{fld} is an identifier, personal or not text: "
                             "its values cannot be mapped")
    return mapping


def load_profile(path: Path) -> Profile:
    """An export profile, checked against the standard.

    Raises ``ValueError`` naming the file and the problem: an unknown entity or field, a column
    of a special category (diagnoses, religion, ...) mapped to any field, a value map on an
    identifier.
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = standard()
    personal = tuple(raw.get("personal_columns", ()))
    entities: dict[str, EntityMapping] = {}
    for entity, m in raw["entities"].items():
        if entity not in known:
            raise ValueError(f"{path}: entity '{entity}' is not in the data standard")
        mapping = _entity_mapping(path, entity, m, known[entity], personal)
        first = next((e for e in entities.values() if e.file_pattern == mapping.file_pattern), None)
        entities[entity] = replace(mapping, primary=first is None)
    department = None
    if raw.get("department"):
        d = raw["department"]
        _refuse_special(path, "department", d["column"])
        department = DepartmentMapping(str(d["column"]), _str_map(d.get("values")),
                                       d.get("unmapped"))
    return Profile(
        name=raw["name"],
        description=raw.get("description", ""),
        format=raw.get("format", "csv"),
        encoding=raw.get("encoding", "utf-8"),
        delimiter=raw.get("delimiter", ";"),
        date_formats=tuple(raw.get("date_formats", ["%d.%m.%Y"])),
        decimal=raw.get("decimal", ","),
        entities=entities,
        path=path,
        department=department,
    )


@lru_cache(maxsize=1)
def profiles() -> dict[str, Profile]:
    return {p.name: p for p in map(load_profile, sorted(PROFILES_DIR.glob("*.yml")))}


def render_markdown() -> str:
    """The data standard as a document (``ingestion/standard_v1.md`` is this, committed)."""
    raw = yaml.safe_load(STANDARD_FILE.read_text(encoding="utf-8"))
    out = [
        f"# Datenwerk data standard, version {raw['version']}",
        "",
        "What a case-management export means once it is loaded: one table per entity, the fields",
        "below with their types, whether they are required, their allowed codes and meaning.",
        "Any organisation can adopt it: map your export onto it with an export profile (see",
        "`case_management/profiles/`), then check files with `datenwerk validate FILE` before",
        "sending them. This file is generated from `standard_v1.yml`",
        "and the shipped profiles by `make` (`make standard`); a test keeps them in step.",
        "",
        "**Never stored**: names, addresses, phone numbers, e-mail addresses, full birth dates and",
        (
            "free-text notes. Fields marked *pseudonymised* become keyed HMAC-SHA256 pseudonyms; "
            "fields"
        ),
        "marked *personal* are read only to derive a coarser field and are then dropped.",
        "",
        "**Special categories** (GDPR Art. 9) are never stored in any form, not even",
        (
            "pseudonymised: a profile that maps a column whose name reveals one of them to any "
            "field is"
        ),
        "refused (list such columns under `personal_columns`; they are never read):",
        "",
        *(f"- {c.label}: column names containing "
          + ", ".join(f"`{w}`" for w in c.column_words) for c in special_categories().values()),
        "",
        "Every identifier of the source system (client, case, contact, goal, assessment, staff",
        "numbers, and keys a profile derives from several columns) is stored only as its keyed",
        "pseudonym; the clear value is never written.",
        "",
        "**Numbers are unique per department folder.** A number identifies a record only within",
        "the system that issued it, and a system is known by the folder its exports arrive in",
        "(`case_management/<organisation>/<department>/`). Case `F-1` delivered by two departments",
        "is two cases, and client `1001` two people; a contact, goal or assessment belongs to the",
        "case of its number in its own folder. A system that serves several departments delivers",
        "its export into one folder and names each row's department in a column (a profile's",
        "`department:`), so that a client served by two of its departments stays one client.",
        "",
        "**Erased clients stay erased.** A client erased on request (GDPR Art. 17) or after the",
        "source system deleted the record is named by its folder and number (`datenwerk erase`);",
        "an export that still holds it (delivered again, or an older one) loads without the rows",
        "of the client and its cases, and the file's registry counts them as erased (rows read =",
        "loaded + set aside + erased). Deleting a client in the source system does not delete it",
        "here: ask the platform's data steward to erase it.",
        "",
        "Types: `string`; `date` (`DD.MM.YYYY`, also without leading zeros, or ISO `YYYY-MM-DD`;",
        "impossible dates such as 31.02., years of fewer than four digits (the century is never",
        ("guessed) and dates before 1900 are rejected); `integer`; `decimal` (decimal comma or "
         "point"),
        "as the profile says; with a decimal comma a dot only groups thousands: `1.234,5`, and",
        "`1.5` is no number).",
        "",
    ]
    for name, spec in standard().items():
        key = ", ".join(f"`{k}`" for k in spec.key)
        out += [f"## `{name}`", "", spec.description, "", f"Key: {key}", ""]
        out += ["| field | type | required | codes / range | notes |", "|---|---|---|---|---|"]
        for f in spec.fields.values():
            codes = ", ".join(f"`{c}`" for c in f.codes)
            if f.minimum is not None or f.maximum is not None:
                low = f.minimum if f.minimum is not None else ""
                high = f.maximum if f.maximum is not None else ""
                codes = f"{low} … {high}"
            notes = [f.description]
            if f.pseudonymise:
                notes.append("*pseudonymised*")
            if f.personal:
                derived = ", ".join(f"becomes `{o}` ({h})" for o, h in f.derive.items())
                notes.append(f"*personal: {derived}*")
            required = "yes" if f.required else ""
            out.append(f"| `{f.name}` | {f.type} | {required} | {codes} | {' '.join(notes)} |")
        if spec.rules:
            rules = "; ".join(f"`{r.check}` (else: {r.reason})" for r in spec.rules)
            out += ["", f"Rules: {rules}."]
        out.append("")
    out += ["## Rows that break the standard", "",
            ("Rows with a missing required value, an unreadable or impossible date, a number "
             "that is"),
            ("no number, an unknown code, a broken rule, a key repeated within the file, or too "
             "many or"),
            "too few fields go to the quarantine table with file, row, field and reason (values of",
            "personal fields are never copied). A file whose share of such rows exceeds",
            "`DATENWERK_MAX_REJECT_SHARE` (default 20 %) is rejected as a whole.", "",
            "## Export profiles shipped", ""]
    out += [
        f"- `{p.name}` ({p.format}, {p.encoding}): {p.description}" for p in profiles().values()
    ]
    return "\n".join(out) + "\n"
