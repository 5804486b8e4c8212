"""Data stewards and asset owners: ``orchestration/stewards.yml`` (the owners of each kind of
asset), overlaid by the installation's stewards file (``DATENWERK_STEWARDS_FILE``, else
``$DATENWERK_HOME/stewards.yml``, if present), whose top-level keys replace the shipped ones.

Stewards and delivery rhythms are keyed by organisation *and* department: one installation holds
several organisations, each with its own departments. The shipped file names none, so a real
installation never inherits the demo's (those live in ``ingestion/demo/stewards.yml``).

The owners are configuration, not data: the asset graph must not change with what lies in the
inbox. The reference ``departments.csv`` names each department's steward; the stewards file adds
what Dagster needs (an e-mail address) and the delivery rhythm that source freshness checks use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from ingestion.case_management import ENTITIES
from warehouse import paths, settings
from warehouse.marts import EMAIL, TEAM

DEFAULT_FILE = Path(__file__).with_name("stewards.yml")
DEMO_FILE = Path(__file__).parents[1] / "ingestion" / "demo" / "stewards.yml"


@dataclass(frozen=True)
class Steward:
    organisation_code: str
    department_code: str
    name: str
    email: str
    max_days_without_delivery: float
    # The entities its exports must carry (``entities:``); None: every entity it ever delivered.
    expected_entities: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Stewards:
    default_owner: str
    departments: dict[tuple[str, str], Steward]  # (organisation, department) -> steward
    owners: dict[str, tuple[str, ...]]

    def owners_for(self, candidates: Sequence[str]) -> list[str]:
        """Owners of the first of ``candidates`` (most specific first) that the file names."""
        for name in candidates:
            if name in self.owners:
                return self.expand(self.owners[name])
        return [self.default_owner]

    def expand(self, entries: Sequence[str]) -> list[str]:
        """Owners for Dagster from ``entries`` as this file and a model's ``meta.owner`` write
        them: ``stewards`` becomes every steward's e-mail address (the default owner while none is
        named), ``<organisation>/<department>`` that department's."""
        out: list[str] = []
        by_code = {f"{org}/{dept}": s for (org, dept), s in self.departments.items()}
        for entry in entries:
            if entry == "stewards":
                out += [s.email for s in self.departments.values()] or [self.default_owner]
            elif entry in by_code:
                out.append(by_code[entry].email)
            else:
                out.append(as_owner(entry))
        return list(dict.fromkeys(out)) or [self.default_owner]


def as_owner(value: str) -> str:
    """An owner as Dagster takes it: an e-mail address or ``team:<name>``."""
    value = value.strip()
    if EMAIL.match(value) or TEAM.match(value):
        return value
    return f"team:{re.sub(r'[^A-Za-z0-9_.-]+', '-', value).strip('-')}"


def _departments(raw: dict, source: str) -> dict[tuple[str, str], Steward]:
    if "departments" in raw:
        raise ValueError(
            f"{source}: 'departments' is keyed by department code alone; key stewards by "
            "organisation and department: organisations: {<organisation>: {<department>: ...}}")
    default_days = settings.default_max_days_without_delivery()
    found = {}
    for org, departments in (raw.get("organisations") or {}).items():
        for code, entry in (departments or {}).items():
            email = str((entry or {}).get("email", ""))
            if not EMAIL.match(email):
                raise ValueError(
                    f"{source}: organisation {org}, department {code}: 'email' must be an "
                    "e-mail address")
            entities = entry.get("entities")
            if entities is not None:
                unknown = sorted({str(e) for e in entities} - set(ENTITIES)) if isinstance(
                    entities, list) else ["(not a list)"]
                if unknown:
                    raise ValueError(
                        f"{source}: organisation {org}, department {code}: 'entities' must be a "
                        f"list of {', '.join(ENTITIES)}; not: {', '.join(unknown)}")
            found[(str(org), str(code))] = Steward(
                str(org), str(code), str(entry.get("steward", "")), email,
                float(entry.get("max_days_without_delivery", default_days)),
                tuple(dict.fromkeys(str(e) for e in entities)) if entities is not None else None,
            )
    return found


@lru_cache(maxsize=8)
def _load(files: tuple[str, ...]) -> Stewards:
    raw: dict = {}
    for path in files:
        raw.update(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})
    owners = {str(k): tuple(str(v) for v in vs) for k, vs in (raw.get("owners") or {}).items()}
    return Stewards(as_owner(str(raw.get("default_owner", "team:data-engineering"))),
                    _departments(raw, " + ".join(files)), owners)


def installation_file() -> Path | None:
    """The installation's stewards file, if it has one."""
    chosen = settings.stewards_file()
    if chosen:
        return Path(chosen)
    own = paths.home() / "stewards.yml"
    return own if own.exists() else None


def stewards() -> Stewards:
    own = installation_file()
    return _load((str(DEFAULT_FILE), *((str(own),) if own else ())))
