"""What the dbt project says about each mart beside its SQL: the model's ``config.meta``.

Every model under ``transform/models/marts/`` has one YAML beside its SQL, whose meta holds::

    config:
      meta:
        owner: [stewards, team:quality-management]  # its Dagster owners, see below
        label_de: Fälle                  # German name: the sheet in department exports
        data_steward: Quality management # who answers for the content
        publish: true                    # copied into published/marts.duckdb
        department_export: department_code   # departments may receive it, limited by this column
        gx:                              # a Great Expectations suite; extras beyond the names:
          keys: [[organisation_code, case_id]]
          non_negative: [contacts]       # counts that predate the naming conventions
          signed: [amount_eur]           # money columns that may be negative
          between: {weight: [1, 10]}
          in_set: {status: [open, closed]}

``owner`` (one or a list) names the asset's owners in Dagster, replacing the folder's default from
``orchestration/stewards.yml``: an e-mail address, ``team:<name>``, ``stewards`` (every department
steward of the installation) or ``<organisation>/<department>`` (that department's steward).

Publication, department exports and the mart suites read it here, from the dbt manifest, so a new
mart is one ``.sql`` plus one ``.yml``. A key this module does not know, or a published mart
without a ``gx`` suite, is an error when the definitions load, not a mart silently left out.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warehouse import paths
from warehouse.registry import unknown_keys

MARTS_FOLDER = "marts"
META_KEYS = frozenset(
    {"owner", "data_steward", "label_de", "publish", "department_export", "gx"})
# The German name names the mart's sheet in department exports: Excel allows 31 characters.
MAX_LABEL = 31
GX_KEYS = frozenset({"keys", "non_negative", "signed", "between", "in_set"})
# Owners as Dagster takes them, and the names the stewards file resolves to e-mail addresses.
TEAM = re.compile(r"^team:[\w.-]+$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
STEWARD_REFERENCE = re.compile(r"^(stewards|[\w.-]+/[\w.-]+)$")


class MartMetaError(ValueError):
    """A mart's meta in its dbt YAML is wrong: the message names the model and the key."""


@dataclass(frozen=True)
class MartRules:
    """What the naming conventions cannot know about one mart (its ``meta.gx``)."""

    keys: tuple[tuple[str, ...], ...] = ()
    non_negative: tuple[str, ...] = ()
    signed: tuple[str, ...] = ()
    between: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    in_set: dict[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Mart:
    """One model of the marts folder and what its meta declares."""

    name: str
    publish: bool = False
    department_export: str | None = None  # the column that limits rows to one department
    gx: MartRules | None = None  # None: no suite
    owners: tuple[str, ...] = ()  # empty: the folder's default owners


def manifest_path() -> Path:
    """The manifest of the dbt project (parsed by ``orchestration.transform``)."""
    return paths.TRANSFORM_DIR / "target" / "manifest.json"


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MartMetaError(f"{where}: expected a list of column names, got {value!r}")
    return tuple(value)


def _rules(gx: Any, where: str) -> MartRules:
    if not isinstance(gx, dict):
        raise MartMetaError(f"{where}: meta.gx must be a mapping (or {{}}), got {gx!r}")
    unknown = unknown_keys(gx, GX_KEYS, prefix="meta.gx.")
    if unknown:
        raise MartMetaError(f"{where}: {unknown}")
    between = gx.get("between") or {}
    in_set = gx.get("in_set") or {}
    if not isinstance(between, dict) or not all(
            isinstance(v, list) and len(v) == 2 for v in between.values()):
        raise MartMetaError(f"{where}: meta.gx.between maps a column to [low, high]")
    if not isinstance(in_set, dict) or not all(isinstance(v, list) for v in in_set.values()):
        raise MartMetaError(f"{where}: meta.gx.in_set maps a column to a list of values")
    return MartRules(
        keys=tuple(_names(k, f"{where}: meta.gx.keys") for k in gx.get("keys") or []),
        non_negative=_names(gx.get("non_negative") or [], f"{where}: meta.gx.non_negative"),
        signed=_names(gx.get("signed") or [], f"{where}: meta.gx.signed"),
        between={c: (lo, hi) for c, (lo, hi) in between.items()},
        in_set={c: tuple(v) for c, v in in_set.items()},
    )


def _meta(node: Mapping[str, Any]) -> dict[str, Any]:
    return {**(node.get("meta") or {}), **((node.get("config") or {}).get("meta") or {})}


def _where(node: Mapping[str, Any]) -> str:
    # The YAML that holds the meta ("<project>://models/marts/x.yml"), else the model's SQL.
    source = (node.get("patch_path") or "").partition("://")[2] or node.get("original_file_path")
    return f"{source} ({node.get('resource_type', 'model')} {node['name']})"


def declared_owners(node: Mapping[str, Any]) -> tuple[str, ...]:
    """The owners a dbt node's ``meta.owner`` names (empty if none); anything Dagster would not
    take as an owner, nor the stewards file resolve, raises :class:`MartMetaError`."""
    value = _meta(node).get("owner")
    entries = value if isinstance(value, list) else [] if value is None else [value]
    for entry in entries:
        if not (isinstance(entry, str)
                and any(p.match(entry) for p in (TEAM, EMAIL, STEWARD_REFERENCE))):
            raise MartMetaError(
                f"{_where(node)}: meta.owner {entry!r} is no owner: write an e-mail address, "
                "team:<name>, stewards or <organisation>/<department>")
    return tuple(entries)


def mart_from_node(node: dict[str, Any]) -> Mart:
    """The :class:`Mart` of one manifest model node; a wrong meta raises :class:`MartMetaError`."""
    where = _where(node)
    meta = _meta(node)
    unknown = unknown_keys(meta, META_KEYS, what="meta key(s)")
    if unknown:
        raise MartMetaError(f"{where}: {unknown}")
    publish = meta.get("publish", False)
    if not isinstance(publish, bool):
        raise MartMetaError(f"{where}: meta.publish must be true or false, got {publish!r}")
    column = meta.get("department_export")
    if column is not None and not isinstance(column, str):
        raise MartMetaError(f"{where}: meta.department_export names one column, got {column!r}")
    if column is not None and not publish:
        raise MartMetaError(f"{where}: meta.department_export needs meta.publish: true "
                            "(departments receive rows of the published marts)")
    if column is not None and node.get("columns") and column not in node["columns"]:
        raise MartMetaError(f"{where}: meta.department_export names {column!r}, which is not "
                            "a column in the model's YAML")
    label = meta.get("label_de")
    if label is not None and not (isinstance(label, str) and 0 < len(label) <= MAX_LABEL):
        raise MartMetaError(f"{where}: meta.label_de names the mart's Excel sheet: text of 1 to "
                            f"{MAX_LABEL} characters, got {label!r}")
    gx = _rules(meta["gx"], where) if "gx" in meta else None
    if publish and gx is None:
        raise MartMetaError(f"{where}: a published mart needs a Great Expectations suite: add "
                            "meta.gx (at least `gx: {}` for the suite from its column names)")
    return Mart(node["name"], publish, column, gx, declared_owners(node))


def marts_of(manifest: dict[str, Any]) -> dict[str, Mart]:
    """Every model of the marts folder in a parsed manifest, by name."""
    found = [
        mart_from_node(node) for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node.get("fqn", [])[1:2] == [MARTS_FOLDER]
    ]
    return {m.name: m for m in sorted(found, key=lambda m: m.name)}


@functools.cache
def _cached(path: Path, mtime_ns: int) -> dict[str, Mart]:
    return marts_of(json.loads(path.read_text(encoding="utf-8")))


def marts(manifest: Path | None = None) -> dict[str, Mart]:
    """The marts of the dbt manifest (default: the project's), by name."""
    path = manifest or manifest_path()
    return _cached(path, path.stat().st_mtime_ns)


def published(manifest: Path | None = None) -> tuple[str, ...]:
    """Names of the marts with ``meta.publish: true``, sorted."""
    return tuple(name for name, m in marts(manifest).items() if m.publish)


def department_column(mart: str, manifest: Path | None = None) -> str | None:
    """The column that limits ``mart`` to one department, or None if departments may not
    receive it."""
    found = marts(manifest).get(mart)
    return found.department_export if found else None
