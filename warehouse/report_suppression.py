"""Secondary suppression for the impact reports, linked with the open data.

The reports of one organisation (the organisation's, each department's, each program's) show
the same counts of people at three levels, and the open data shows closed cases and planned ends
per department: a count hidden in one place could be recovered by subtracting the ones shown
elsewhere (a department's 28 clients minus its programs' 9 and 16). So each count of people a
report shows is one cell of linked count tables (:mod:`warehouse.suppression`), per year and
measure:

- the unit hierarchy: all organisations -> organisation -> departments -> programs (and, for a
  program that several departments run, the organisation's row of it -> its departments);
- a rate's people on both sides (``outcome``: those it counts, the others; the total is its n);
- goals by life domain and assessment pairs by problem area, one family per domain or
  dimension (an "item"). The sums over items the reports show (a step of the Wirkungstreppe,
  goals achieved in all domains: the n of the cost per goal) are shown only where every item
  they add up is shown in the same report, so they are functions of published cells and add
  nothing (:meth:`Protection.sum_hidden`);
- figures about a group of people (its contacts, the minutes of its contacts and of its staff,
  a cost per contact hour) are published only where the group's count of people is: a group's
  contacts start withheld where its clients are (hidden as small or as a complement), the
  minutes where its contacts are, and each is a family of its own, suppressed secondarily so
  that no difference of totals gives them (a department's contacts minus its other programs').
  Minutes are sums, not counts: no threshold of their own, and a hidden sum must stay uncertain
  by a share of its value (:data:`warehouse.settings.MINUTES_PROTECTION`);
- closed cases by ``end_reason_category`` share their keys with the open data's
  ``cases_by_end_reason``: its cells are passed as published or withheld, never re-decided.
  A department is named as the open data names it (:func:`warehouse.open_data.department_label`:
  ``<organisation>/<department>`` wherever the installation holds several organisations), so
  the same department is one cell in both.

:func:`protect` runs :func:`warehouse.suppression.suppress` over each linked family and year and
returns the keys of the cells every report must hide (its own small counts, and complements).
Sums the reports do not show (all organisations) are treated as published: an attacker who
knew them would still learn nothing, so it only hides more. The attacker is not given what is
known of contacts beyond the sums (every contact lasts at least a minute; staff minutes are at
most contact minutes: hence both minutes are hidden in the same cells).

Not here, on purpose: the department exports (a department's own cases, row by row, for its own
staff, who know those clients and hold the rows these figures add up) and the marts of
``published/marts.duckdb`` for the organisation's analysts, ``mart_srs_report`` among them: no
suppression there, so a funder report copied from them by hand is not protected; its figures
must come from the impact reports.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse import open_data, settings
from warehouse.suppression import TOTAL, Key, Table, suppress

# (organisation, department, program); None: the sum over that level.
Unit = tuple[str | None, str | None, str | None]
Extras = tuple[str, ...]
CLOSED = "closed_cases"  # keyed as in the open data: year, end_reason_category, department
HIT, MISS = "hit", "miss"
NOT_PLANNED = "not_planned"
GOAL, PAIR = "goal:", "pair:"  # items of the Wirkungstreppe: goal domains, assessment dimensions
NO_STEP = "none"
# family -> its extra dimensions (before the unit)
FAMILIES: dict[str, tuple[str, ...]] = {
    "clients_reached": (),
    "contacts": (),
    "contact_minutes": (),
    "staff_minutes": (),
    "cases_started": ("outcome",),  # hit: accepted (step 3)
    CLOSED: ("end_reason_category",),
    "cases_active": ("month",),
    "effects": ("outcome",),  # one family per item (goal domain, assessment dimension)
}
# A figure about a group is published only where the group is: family -> the family whose hidden
# cells it starts withheld in (the contacts of the clients reached, the minutes of the contacts).
ABOUT: dict[str, str] = {"contacts": "clients_reached", "contact_minutes": "contacts",
                         "staff_minutes": "contacts"}
# Sums of minutes: staff minutes are at most contact minutes (an attacker may use that), so
# both are hidden in the same cells.
MINUTES = ("contact_minutes", "staff_minutes")
# Both sides of a rate are cells even where one is 0 in a year (every goal achieved): a report
# shows the rate's three cells, or hides all three.
LEVELS: dict[str, tuple[str, ...]] = {
    "outcome": (HIT, MISS),
    "end_reason_category": ("planned_end", NOT_PLANNED),
}


@dataclass
class KeyedTable(Table):
    """A :class:`Table` whose cells carry explicit keys: the unit hierarchy is not a product of
    dimension values (a department's key does not name its organisation, as in the open data)."""

    keys: dict[tuple[str, ...], Key] = field(default_factory=dict)

    def key(self, cell: tuple[str, ...]) -> Key:
        return self.keys[cell]


@dataclass
class Hierarchy:
    """Who belongs to whom, and the key of every unit."""

    programs: dict[tuple[str, str], list[str]]  # (organisation, program) -> departments
    # departments named <organisation>/<department>, as in the open data
    by_organisation: bool = False
    steps: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # step -> items

    def department_label(self, organisation: str, department: str) -> str:
        # the open data's name: its department cells are the reports' (one key, one figure)
        return open_data.department_label(organisation, department, self.by_organisation)

    def unit_key(self, unit: Unit) -> dict[str, str]:
        org, dept, prog = unit
        if org is None:
            return {}
        if dept is None and prog is None:
            return {"organisation_code": org}
        if dept is None:
            assert prog is not None
            departments = self.programs.get((org, prog), [])
            if len(departments) != 1:
                return {"organisation_code": org, "program_code": prog}
            dept = departments[0]
        out = {"department_code": self.department_label(org, dept)}
        if prog is not None:
            out["program_code"] = prog
        return out

    def parents(self, units: Iterable[Unit]) -> dict[Unit, list[Unit]]:
        """Each unit that is a sum -> the units it sums (programs are the leaves)."""
        out: dict[Unit, set[Unit]] = defaultdict(set)
        for org, dept, prog in units:
            out[(None, None, None)].add((org, None, None))
            out[(org, None, None)].add((org, dept, None))
            if prog is None:  # leaves are departments
                continue
            out[(org, dept, None)].add((org, dept, prog))
            if len(self.programs.get((org, prog), [])) > 1:  # type: ignore[arg-type]
                out[(org, None, prog)].add((org, dept, prog))
        return {u: sorted(c, key=str) for u, c in out.items()}


def cell_key(hierarchy: Hierarchy, family: str, year: int, unit: Unit,
             **extras: str) -> Key:
    """The key of one count: the same figure in any report, or in the open data, has one key."""
    items = {"year": str(year), **hierarchy.unit_key(unit),
             **{d: v for d, v in extras.items() if v != TOTAL}}
    family, _, item = family.partition("|")
    if family != CLOSED:
        items["measure"] = family
    if item:
        items["item"] = item
    return frozenset(items.items())


def _family_tables(hierarchy: Hierarchy, family: str, year: int,
                   counts: Mapping[tuple[Unit, Extras], int]) -> list[Table]:
    """One table per sum in the unit hierarchy: the family's dimensions x the units it sums."""
    dims = FAMILIES[family.partition("|")[0]]
    levels = [sorted({e[i] for _, e in counts} | set(LEVELS.get(d, ())))
              for i, d in enumerate(dims)]
    totals: dict[tuple[Unit, Extras], int] = defaultdict(int)
    for (unit, extras), n in counts.items():
        org, dept, prog = unit
        for u in {unit, (org, dept, None), (org, None, None), (None, None, None),
                  (org, None, prog)}:
            for cell in itertools.product(*[(v, TOTAL) for v in extras]):
                totals[(u, cell)] += n
    tables: list[Table] = []
    for parent, children in hierarchy.parents({u for u, _ in counts}).items():
        table = KeyedTable(f"{family}{list(hierarchy.unit_key(parent).values())}",
                           {"year": str(year)}, (*dims, "unit"))
        for cell in itertools.product(*[[*lv, TOTAL] for lv in levels],
                                      [*map(str, range(len(children))), TOTAL]):
            unit = parent if cell[-1] == TOTAL else children[int(cell[-1])]
            table.cells[cell] = totals.get((unit, cell[:-1]), 0)
            table.keys[cell] = cell_key(hierarchy, family, year, unit,
                                        **dict(zip(dims, cell[:-1], strict=True)))
        tables.append(table)
    return tables


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def read_counts(con: duckdb.DuckDBPyConnection, steps: dict[str, set[str]]
                ) -> dict[tuple[str, int], dict[tuple[Unit, Extras], int]]:
    """(family, year) -> (program unit, extra values) -> count, from the published marts;
    ``steps`` gets the items of each step of the Wirkungstreppe."""
    out: dict[tuple[str, int], dict[tuple[Unit, Extras], int]] = defaultdict(
        lambda: defaultdict(int))

    def add(family: str, year: int, org: str, dept: str, prog: str | None, extras: Extras,
            n: int | None) -> None:
        if n:
            out[(family, year)][((org, dept, prog), extras)] += int(n)

    for (org, dept, prog, year, clients, contacts, contact_minutes, staff_minutes, started,
         accepted, closed, planned) in _rows(con, """
            select organisation_code, department_code, program_code, year, n_clients_reached,
                   n_contacts, contact_minutes, staff_minutes, n_cases_started,
                   n_cases_accepted, n_cases_closed, n_planned_ends
            from mart_impact"""):
        unit = (org, dept, prog)
        add("clients_reached", year, *unit, (), clients)
        add("contacts", year, *unit, (), contacts)
        add("contact_minutes", year, *unit, (), contact_minutes)
        add("staff_minutes", year, *unit, (), staff_minutes)
        add("cases_started", year, *unit, (HIT,), accepted)
        add("cases_started", year, *unit, (MISS,), (started or 0) - (accepted or 0))
        add(CLOSED, year, *unit, ("planned_end",), planned)
        add(CLOSED, year, *unit, (NOT_PLANNED,), (closed or 0) - (planned or 0))
    for org, dept, prog, year, month, active in _rows(con, """
            select organisation_code, department_code, program_code, year,
                   month(period_start), n_cases_active
            from mart_outcomes where period_type = 'month'"""):
        add("cases_active", year, org, dept, prog, (str(month),), active)
    for org, dept, prog, year, step, item, rated, achieved in _rows(con, f"""
            select organisation_code, department_code, program_code, end_year,
                   coalesce(cast(wirkungstreppe_step as varchar), '{NO_STEP}'),
                   '{GOAL}' || domain, count(*) filter (where is_rated),
                   count(*) filter (where is_achieved)
            from fct_goals where case_status = 'closed' and end_year is not null
            group by all
            union all
            select organisation_code, department_code, program_code, year,
                   coalesce(cast(wirkungstreppe_step as varchar), '{NO_STEP}'),
                   '{PAIR}' || dimension, sum(n_assessed_pairs), sum(n_improved_pairs)
            from mart_outcomes_by_dimension where period_type = 'year'
            group by all"""):
        add(f"effects|{item}", year, org, dept, prog, (HIT,), achieved)
        add(f"effects|{item}", year, org, dept, prog, (MISS,), (rated or 0) - (achieved or 0))
        steps[step].add(item)
    return out


@dataclass
class Protection:
    """The cells every report must hide, and the keys to find a figure's cell."""

    hierarchy: Hierarchy
    hidden: set[Key]

    def key(self, family: str, year: int, unit: Unit, **extras: str) -> Key:
        return cell_key(self.hierarchy, family, year, unit, **extras)

    def hides(self, keys: Iterable[Key]) -> bool:
        return any(k in self.hidden for k in keys)

    def sum_keys(self, year: int, unit: Unit, step: str | None = None) -> list[Key]:
        """The cells of the items a step (``step``), or all goals, add up."""
        if step is not None:
            items = self.hierarchy.steps.get(step, set())
        else:
            items = {i for its in self.hierarchy.steps.values() for i in its
                     if i.startswith(GOAL)}
        return [self.key(f"effects|{item}", year, unit, outcome=outcome)
                for item in sorted(items) for outcome in (HIT, MISS, TOTAL)]


def open_data_tables(marts_db: Path) -> tuple[list[Table], list[Table]]:
    """The open data's end-reason tables as they are published, and with their true counts."""
    rows = open_data.case_counts(marts_db)
    shown = [t for t in open_data.aggregate_tables(rows) if t.name == "cases_by_end_reason"]
    true = open_data.aggregate_tables(rows, threshold=0, margin=0)
    return shown, [t for t in true if t.name == "cases_by_end_reason"]


def linked_tables(con: duckdb.DuckDBPyConnection, hierarchy: Hierarchy
                  ) -> dict[tuple[str, int], list[Table]]:
    """(family, year) -> the report's linked tables with their true counts."""
    out: dict[tuple[str, int], list[Table]] = {}
    for (family, year), counts in sorted(read_counts(con, hierarchy.steps).items()):
        out[(family, year)] = _family_tables(hierarchy, family, year, counts)
    return out


def hierarchy_of(con: duckdb.DuckDBPyConnection) -> Hierarchy:
    programs: dict[tuple[str, str], list[str]] = defaultdict(list)
    for org, prog, dept in _rows(con, """
            select distinct organisation_code, program_code, department_code from mart_impact
            order by all"""):
        programs[(org, prog)].append(dept)
    return Hierarchy(dict(programs), open_data.departments_by_organisation(con))


def as_family(key: Key, family: str) -> Key:
    """The same group's cell of another family (its contacts' for its clients')."""
    return frozenset({**dict(key), "measure": family}.items())


def _suppress_family(tables: Sequence[Table], family: str, *, published: set[Key],
                     withheld: set[Key]) -> set[Key]:
    """The keys ``suppress`` hides in one family and year: minutes by their relative margin."""
    threshold, margin = settings.SUPPRESSION_THRESHOLD, settings.PROTECTION_MARGIN
    relative = 0.0
    if family in MINUTES:
        threshold, margin, relative = 0, settings.MINUTES_MARGIN, settings.MINUTES_PROTECTION
    result = suppress(tables, threshold, margin, published=published, withheld=withheld,
                      relative=relative)
    return {given.key(c)  # the copies lost the explicit keys
            for given, t in zip(tables, result, strict=True) for c, v in t.cells.items()
            if v is None}


def _order(family_year: tuple[str, int]) -> tuple[int, str, int]:
    """A group's count before the figures about it: clients, contacts, minutes, the rest."""
    family, year = family_year
    rank = {"clients_reached": 0, "contacts": 1, **dict.fromkeys(MINUTES, 2)}
    return rank.get(family, 3), family, year


def _protect_minutes(families: Mapping[tuple[str, int], list[Table]], year: int,
                     withheld: set[Key]) -> set[Key]:
    """Contact and staff minutes of a year, hidden in the same cells: what one family hides
    joins the other's withheld, to a fixpoint."""
    found = {as_family(k, m) for k in withheld for m in MINUTES}
    while True:
        more = set(found)
        for family in MINUTES:
            more |= {as_family(k, m) for m in MINUTES for k in _suppress_family(
                families.get((family, year), []), family, published=set(),
                withheld={as_family(k, family) for k in found})}
        if more == found:
            return found
        found = more


def protect(con: duckdb.DuckDBPyConnection, marts_db: Path) -> Protection:
    """Suppress the reports' counts of people, primary and secondary, consistent with the open
    data (whose published cells stay published and whose hidden cells stay hidden), and the
    figures about each group (contacts, minutes) wherever the group's count is hidden."""
    hierarchy = hierarchy_of(con)
    shown, true = open_data_tables(marts_db)
    hidden: set[Key] = set()
    families = linked_tables(con, hierarchy)

    def about(family: str, year: int) -> set[Key]:
        """The cells of ``family`` whose group's count is hidden."""
        return {as_family(k, family) for k in hidden
                if dict(k).get("measure") == ABOUT[family] and dict(k)["year"] == str(year)}

    for family, year in sorted(families, key=_order):
        if family in MINUTES:
            continue  # below, both together
        extra: Sequence[Table] = []
        published: set[Key] = set()
        withheld = about(family, year) if family in ABOUT else set()
        if family == CLOSED:
            extra = [t for t in true if t.fixed["year"] == str(year)]
            for t in shown:
                if t.fixed["year"] == str(year):
                    for cell, v in t.cells.items():
                        (withheld if v is None else published).add(t.key(cell))
        hidden |= _suppress_family([*families[(family, year)], *extra], family,
                                   published=published, withheld=withheld)
    for year in sorted({y for f, y in families if f in MINUTES}):
        hidden |= _protect_minutes(families, year, set().union(*(about(f, year)
                                                                   for f in MINUTES)))
    return Protection(hierarchy, hidden)
