"""The data standard (``standard_v1.yml``) and the export profiles that map vendor files onto it."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
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
class EntityMapping:
    entity: str
    file_pattern: str
    columns: dict[str, str]  # standard input name -> export column
    personal_columns: tuple[str, ...]
    values: dict[str, dict[str, str]]


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

    def entity_for(self, filename: str) -> EntityMapping | None:
        for mapping in self.entities.values():
            if fnmatch.fnmatch(filename.lower(), mapping.file_pattern.lower()):
                return mapping
        return None


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


def load_profile(path: Path) -> Profile:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    known = standard()
    entities = {}
    for entity, m in raw["entities"].items():
        if entity not in known:
            raise ValueError(f"{path}: entity '{entity}' is not in the data standard")
        unknown = set(m["columns"]) - set(known[entity].fields)
        if unknown:
            raise ValueError(f"{path}: {entity} maps unknown standard fields {sorted(unknown)}")
        entities[entity] = EntityMapping(
            entity=entity,
            file_pattern=m["file_pattern"],
            columns=dict(m["columns"]),
            personal_columns=tuple(m.get("personal_columns", ())),
            values={k: {str(a): str(b) for a, b in v.items()} for k, v in m.get("values", {}).items()},
        )
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
        "(`datenwerk standard > ingestion/standard_v1.md`); a test keeps the two in step.",
        "",
        "**Never stored**: names, addresses, phone numbers, e-mail addresses, full birth dates and",
        "free-text notes. Fields marked *pseudonymised* become keyed HMAC-SHA256 pseudonyms; fields",
        "marked *personal* are read only to derive a coarser field and are then dropped.",
        "",
        "Types: `string`; `date` (`DD.MM.YYYY`, also without leading zeros, or ISO `YYYY-MM-DD`;",
        "impossible dates such as 31.02. are rejected); `integer`; `decimal` (decimal comma or point",
        "as the profile says; a thousands dot is allowed with a decimal comma).",
        "",
    ]
    for name, spec in standard().items():
        out += [f"## `{name}`", "", spec.description, "", f"Key: {', '.join(f'`{k}`' for k in spec.key)}", ""]
        out += ["| field | type | required | codes / range | notes |", "|---|---|---|---|---|"]
        for f in spec.fields.values():
            codes = ", ".join(f"`{c}`" for c in f.codes)
            if f.minimum is not None or f.maximum is not None:
                codes = f"{f.minimum if f.minimum is not None else ''} … {f.maximum if f.maximum is not None else ''}"
            notes = [f.description]
            if f.pseudonymise:
                notes.append("*pseudonymised*")
            if f.personal:
                notes.append("*personal: " + ", ".join(f"becomes `{o}` ({h})" for o, h in f.derive.items()) + "*")
            out.append(f"| `{f.name}` | {f.type} | {'yes' if f.required else ''} | {codes} | {' '.join(notes)} |")
        if spec.rules:
            out += ["", "Rules: " + "; ".join(f"{r.reason} (`{r.check}`)" for r in spec.rules) + "."]
        out.append("")
    out += ["## Rows that break the standard", "",
            "Rows with a missing required value, an unreadable or impossible date, a number that is",
            "no number, an unknown code, a broken rule, a key repeated within the file, or too many or",
            "too few fields go to the quarantine table with file, row, field and reason (values of",
            "personal fields are never copied). A file whose share of such rows exceeds",
            "`DATENWERK_MAX_REJECT_SHARE` (default 20 %) is rejected as a whole.", "",
            "## Export profiles shipped", ""]
    out += [f"- `{p.name}` ({p.format}, {p.encoding}): {p.description}" for p in profiles().values()]
    return "\n".join(out) + "\n"
