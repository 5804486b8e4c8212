"""Data stewards and asset owners, from ``orchestration/stewards.yml`` (or
``DATENWERK_STEWARDS_FILE``).

The owners are code configuration, not data: the asset graph must not change with what lies in
the inbox. The reference ``departments.csv`` names each department's steward; this file adds
what Dagster needs (an e-mail address) and the delivery rhythm that source freshness checks use.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from warehouse import settings

DEFAULT_FILE = Path(__file__).with_name("stewards.yml")
_TEAM = re.compile(r"^team:[\w.-]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Steward:
    department_code: str
    name: str
    email: str
    max_days_without_delivery: float


@dataclass(frozen=True)
class Stewards:
    default_owner: str
    departments: dict[str, Steward]
    owners: dict[str, tuple[str, ...]]

    def owners_for(self, candidates: Sequence[str]) -> list[str]:
        """Owners of the first of ``candidates`` (most specific first) that the file names."""
        for name in candidates:
            if name in self.owners:
                return self._expand(self.owners[name])
        return [self.default_owner]

    def _expand(self, entries: Sequence[str]) -> list[str]:
        out: list[str] = []
        for entry in entries:
            if entry == "stewards":
                out += [s.email for s in self.departments.values()]
            elif entry in self.departments:
                out.append(self.departments[entry].email)
            else:
                out.append(as_owner(entry))
        return list(dict.fromkeys(out))


def as_owner(value: str) -> str:
    """An owner as Dagster takes it: an e-mail address or ``team:<name>``."""
    value = value.strip()
    if _EMAIL.match(value) or _TEAM.match(value):
        return value
    return f"team:{re.sub(r'[^A-Za-z0-9_.-]+', '-', value).strip('-')}"


@lru_cache(maxsize=4)
def _load(path: str) -> Stewards:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    default_days = settings.default_max_days_without_delivery()
    departments = {}
    for code, entry in (raw.get("departments") or {}).items():
        email = str(entry.get("email", ""))
        if not _EMAIL.match(email):
            raise ValueError(f"{path}: department {code}: 'email' must be an e-mail address")
        departments[str(code)] = Steward(
            str(code), str(entry.get("steward", "")), email,
            float(entry.get("max_days_without_delivery", default_days)),
        )
    owners = {str(k): tuple(str(v) for v in vs) for k, vs in (raw.get("owners") or {}).items()}
    return Stewards(as_owner(str(raw.get("default_owner", "team:data-engineering"))),
                    departments, owners)


def stewards() -> Stewards:
    return _load(settings.stewards_file() or str(DEFAULT_FILE))
