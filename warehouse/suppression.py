"""Small-cell suppression for published count tables, and the proof that it holds.

Tables are count tables with all their margins (1-D: cells and a total; 2-D: cells, row totals,
column totals, grand total; the code handles any number of dimensions). A cell is identified
across tables by the dimension values it fixes (``year=2024, department=SB`` is the same cell
in every table that publishes it), so tables that share a margin form one linked system and an
attacker's "differencing" across them is part of what is checked.

:func:`suppress` hides (``None``, written as ".") every count with ``0 < n < threshold``
(primary suppression) and then complementary cells (secondary suppression) until every hidden
cell's feasible range, given everything published, is at least ``margin`` wide.
:func:`verify_no_disclosure` proves that on the published tables alone:

a. no published count is in ``1 .. threshold-1``. Zeros are published: an empty cell describes
   nobody (this is also the practice of German official statistics, which print "-");
b. every hidden cell's feasible interval, from the published row/column/total equations and
   non-negativity, is at least ``margin`` wide (computed with linear programming, scipy HiGHS).

Tables of sums that are no counts of people (the minutes of a group's contacts) take the same
two functions with ``threshold`` 0 and a ``relative`` margin: a hidden sum's interval must be at
least that share of its true value wide, whatever its size (a total of hours minus the visible
parts gives the hidden part exactly, so a hidden sum needs complements as a count does).

Why the linear programme is exact here: a 2-D table with margins, and two 2-D tables that share
one margin (end reason x department and region x department, linked by the department totals),
form a network-flow (circulation) system, whose constraint matrix is totally unimodular; so the
LP's bounds are attained by integer tables and equal the bounds an attacker could derive with
integer programming. Nor does the hidden 3-D table (reason x region x department) add anything:
for every department any two non-negative margins with equal totals are the margins of some
non-negative integer table. For other layouts (3-D tables with all 2-D margins) the LP
interval can be wider than the integer one; the bounds are rounded inward, but exactness is
only claimed for the layouts above.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

TOTAL = "total"

Key = frozenset[tuple[str, str]]


@dataclass
class Table:
    """A published count table.

    ``fixed`` holds dimension values common to all its cells (e.g. ``{"year": "2024"}``);
    ``dims`` names its 1-3 dimensions; ``cells`` maps one value per dimension (``TOTAL`` for a
    margin) to the count, or to ``None`` where it is suppressed.
    """

    name: str
    fixed: Mapping[str, str]
    dims: tuple[str, ...]
    cells: dict[tuple[str, ...], int | None] = field(default_factory=dict)

    def key(self, cell: tuple[str, ...]) -> Key:
        """The cell's identity across tables: every dimension value it fixes."""
        return frozenset(
            [
                *self.fixed.items(),
                *((d, v) for d, v in zip(self.dims, cell, strict=True) if v != TOTAL),
            ]
        )

    def levels(self, i: int) -> list[str]:
        return sorted({c[i] for c in self.cells if c[i] != TOTAL})

    def equations(self) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
        """(margin cell, the cells that add up to it) for every margin along every dimension."""
        out = []
        levels = [self.levels(i) for i in range(len(self.dims))]
        for i in range(len(self.dims)):
            others = [[*lv, TOTAL] for j, lv in enumerate(levels) if j != i]
            for rest in itertools.product(*others):
                def cell(v: str, rest: tuple[str, ...] = rest, i: int = i) -> tuple[str, ...]:
                    return (*rest[:i], v, *rest[i:])

                out.append((cell(TOTAL), [cell(v) for v in levels[i]]))
        return out


def table_from_counts(
    name: str, fixed: Mapping[str, str], dims: Sequence[str],
    counts: Mapping[tuple[str, ...], int], levels: Sequence[Sequence[str]],
) -> Table:
    """A complete table over ``levels`` (missing combinations are 0) with all its margins."""
    table = Table(name, dict(fixed), tuple(dims))
    for cell in itertools.product(*[[*lv, TOTAL] for lv in levels]):
        table.cells[cell] = sum(
            n for c, n in counts.items()
            if all(v in (TOTAL, cv) for v, cv in zip(cell, c, strict=True))
        )
    return table


class _System:
    """All cells of linked tables as variables, and the equations between them."""

    def __init__(self, tables: Sequence[Table]) -> None:
        self.index: dict[Key, int] = {}
        self.labels: list[str] = []
        self.values: list[int | None] = []
        self.conflicts: list[str] = []
        for t in tables:
            for cell, value in t.cells.items():
                k = t.key(cell)
                if k not in self.index:
                    self.index[k] = len(self.labels)
                    self.labels.append(f"{t.name}{list(cell)}")
                    self.values.append(value)
                else:
                    i = self.index[k]
                    old = self.values[i]
                    if old is not None and value is not None and old != value:
                        self.conflicts.append(
                            f"{t.name}{list(cell)} = {value} but {self.labels[i]} = {old}")
                    # Published anywhere means known everywhere.
                    self.values[i] = old if old is not None else value
        seen: set[tuple[int, tuple[int, ...]]] = set()
        self.equations: list[tuple[int, tuple[int, ...]]] = []
        for t in tables:
            for total, parts in t.equations():
                eq = (self.index[t.key(total)], tuple(sorted(self.index[t.key(p)] for p in parts)))
                if eq not in seen:
                    seen.add(eq)
                    self.equations.append(eq)

    def members(self, eq: tuple[int, tuple[int, ...]]) -> tuple[int, ...]:
        return (eq[0], *eq[1])

    def intervals(
        self, hidden: Iterable[int], known: Sequence[int | None]
    ) -> dict[int, tuple[float, float]]:
        """Feasible [min, max] of each hidden variable given the known ones (inf if unbounded)."""
        hidden = sorted(hidden)
        col = {v: j for j, v in enumerate(hidden)}
        rows, rhs = self._equations_in(col, known)
        if not hidden:
            return {}
        a_eq = np.array(rows) if rows else None
        b_eq = np.array(rhs) if rows else None
        out: dict[int, tuple[float, float]] = {}
        for v in hidden:
            c = np.zeros(len(hidden))
            c[col[v]] = 1.0
            bounds = [_bound(c, sense, a_eq, b_eq) for sense in (1.0, -1.0)]
            # Counts are integers: round inward (exact for the layouts above anyway).
            lo: float = math.ceil(bounds[0] - 1e-6)
            hi = bounds[1] if math.isinf(bounds[1]) else math.floor(bounds[1] + 1e-6)
            out[v] = (lo, hi)
        return out

    def _equations_in(
        self, col: dict[int, int], known: Sequence[int | None]
    ) -> tuple[list[np.ndarray], list[float]]:
        """Every equation as ``parts - total = 0`` over the hidden variables (``col``), with the
        known members moved to the right-hand side; an equation without hidden members must hold."""
        rows, rhs = [], []
        for eq in self.equations:
            coef = np.zeros(len(col))
            b = 0.0
            for v, sign in [(eq[0], -1.0), *((p, 1.0) for p in eq[1])]:
                if v in col:
                    coef[col[v]] += sign
                else:
                    b -= sign * float(known[v])  # type: ignore[arg-type]
            if coef.any():
                rows.append(coef)
                rhs.append(b)
            elif abs(b) > 1e-9:
                raise InconsistentTables(f"published cells do not add up: {self._eq_text(eq)}")
        return rows, rhs

    def _eq_text(self, eq: tuple[int, tuple[int, ...]]) -> str:
        return f"{self.labels[eq[0]]} = " + " + ".join(self.labels[p] for p in eq[1])


def _bound(c: np.ndarray, sense: float, a_eq: np.ndarray | None, b_eq: np.ndarray | None) -> float:
    """The least (``sense`` 1) or greatest (-1) c·x over non-negative x with ``a_eq x = b_eq``;
    inf where unbounded."""
    # scipy takes 0.3 s to import: only when a table has hidden cells to bound.
    from scipy.optimize import linprog

    res = linprog(sense * c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status == 3:
        return math.inf
    if res.status != 0:
        raise InconsistentTables(f"no non-negative table fits the published cells ({res.message})")
    return sense * float(res.fun)


def _protect_lone_cells(
    system: _System, hidden: set[int], smallest: Callable[[Iterable[int]], int | None]
) -> None:
    """Step 2 of :func:`suppress`, to a fixpoint: an equation with one hidden member gets
    a second."""
    changed = True
    while changed:
        changed = False
        for eq in system.equations:
            members = system.members(eq)
            if sum(m in hidden for m in members) == 1:
                extra = smallest(members)
                if extra is not None:
                    hidden.add(extra)
                    changed = True


def _hide_complements(
    system: _System, narrow: list[int], hidden: set[int],
    smallest: Callable[[Iterable[int]], int | None],
) -> set[int]:
    """Step 3 of :func:`suppress`: the cells hidden to widen the ``narrow`` ones."""
    # One complement per narrow cell and pass, unless this pass already hid a cell in one
    # of its equations (that may widen it already): far fewer LP rounds than one at a time.
    added: set[int] = set()
    for cell in narrow:
        related = {m for eq in system.equations if cell in system.members(eq)
                   for m in system.members(eq)}
        if related & added:
            continue
        extra = smallest(related)
        if extra is None:
            extra = smallest(range(len(system.values)))
        if extra is not None:
            hidden.add(extra)
            added.add(extra)
    return added


def _pinned(system: _System, fixed: set[int], hidden: set[int], margin: int) -> set[int]:
    """``fixed`` (published elsewhere) and what it pins down (a margin the other publication
    shows under another name): hiding that would protect nothing, so it counts as published."""
    if not fixed:
        return fixed
    unknown = set(range(len(system.values))) - fixed
    known = [v if i in fixed else None for i, v in enumerate(system.values)]
    return fixed | {v for v, (lo, hi) in system.intervals(unknown, known).items()
                    if hi - lo < margin and v not in hidden}


class InconsistentTables(ValueError):
    """Published cells contradict each other (a bug upstream): never publish."""


@dataclass
class DisclosureReport:
    problems: list[str]
    hidden_cells: int
    published_cells: int
    narrowest: float  # smallest feasible-interval width of any hidden cell (inf if none)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_no_disclosure(tables: Sequence[Table], threshold: int, margin: int, *,
                         relative: float = 0.0, truth: Mapping[Key, int] | None = None,
                         ) -> DisclosureReport:
    """Prove from the published tables alone that no small count is published or recoverable.

    (a) every published count is 0 or >= ``threshold``; (b) every suppressed cell's feasible
    interval, given all published cells of all ``tables`` (shared margins linked) and
    non-negativity, is at least ``margin`` wide, and at least ``relative`` times its true value
    (``truth``, by cell key: only the one who checks knows it); (c) published cells are
    consistent. Returns a report; ``report.ok`` is the verdict.
    """
    if relative and truth is None:
        raise ValueError("a relative margin needs the true values of the hidden cells")
    system = _System(tables)
    keys = {i: k for k, i in system.index.items()}
    problems = list(system.conflicts)
    for i, value in enumerate(system.values):
        if value is not None and (value < 0 or 0 < value < threshold):
            problems.append(f"{system.labels[i]} = {value} is published but below {threshold}")
    hidden = [i for i, v in enumerate(system.values) if v is None]
    narrowest = math.inf
    try:
        for v, (lo, hi) in system.intervals(hidden, system.values).items():
            narrowest = min(narrowest, hi - lo)
            needed = max(margin, relative * truth[keys[v]]) if truth is not None else margin
            if hi - lo < needed:
                problems.append(
                    f"{system.labels[v]} is suppressed but lies in [{lo}, {hi}] "
                    f"(width {hi - lo} < {needed:g})")
    except InconsistentTables as exc:
        problems.append(str(exc))
    return DisclosureReport(problems, len(hidden), len(system.values) - len(hidden), narrowest)


def suppress(tables: Sequence[Table], threshold: int, margin: int, *,
             published: Iterable[Key] = (), withheld: Iterable[Key] = (),
             relative: float = 0.0) -> list[Table]:
    """Copies of ``tables`` (true counts, margins included) with small and complementary cells
    set to ``None``. Linked tables (sharing cells) must be passed together.

    ``published`` and ``withheld``: cells another publication already shows or hides (the open
    data, for the reports; a group whose count is hidden, for the sums about it): never chosen
    as a complement, hidden from the start. ``relative``: a hidden cell's interval must also be
    at least this share of its value wide (sums, not counts: see the module's docstring).

    1. Primary: every count with ``0 < n < threshold``, margins included.
    2. Every equation (a margin and its cells) with exactly one hidden member gets a second:
       its smallest published non-zero member (cells before margins), to a fixpoint.
    3. The feasible interval of every hidden cell is computed (LP); for each cell narrower than
       ``margin`` (or ``relative`` times its value), the smallest published non-zero member of
       its equations is hidden (failing that, the smallest published cell anywhere in the
       system); back to 2.

    Hiding only ever grows, so this ends; with everything hidden no equation binds.
    """
    system = _System(tables)
    if system.conflicts:
        raise InconsistentTables("; ".join(system.conflicts))
    true = system.values
    if any(v is None for v in true):
        raise ValueError("suppress() needs the true counts of every cell")
    is_margin = {system.index[t.key(c)] for t in tables for c in t.cells if TOTAL in c}
    hidden = {i for i, v in enumerate(true) if 0 < v < threshold}  # type: ignore[operator]
    hidden |= {system.index[k] for k in withheld if k in system.index}
    fixed = _pinned(system, {system.index[k] for k in published if k in system.index},
                    hidden, margin)
    if fixed & hidden:
        raise InconsistentTables("a small count is published elsewhere: "
                                 + ", ".join(system.labels[i] for i in sorted(fixed & hidden)))

    def smallest(candidates: Iterable[int]) -> int | None:
        pool = [i for i in candidates if i not in hidden and i not in fixed]
        nonzero = [i for i in pool if true[i] != 0]
        pick = nonzero or pool
        return min(pick, key=lambda i: (true[i], i in is_margin, i)) if pick else None

    while True:
        _protect_lone_cells(system, hidden, smallest)
        known = [None if i in hidden else v for i, v in enumerate(true)]
        narrow = [v for v, (lo, hi) in sorted(system.intervals(hidden, known).items())
                  if hi - lo < max(margin, relative * true[v])]  # type: ignore[operator]
        if not narrow:
            break
        added = _hide_complements(system, narrow, hidden, smallest)
        if not added:  # everything hidden already; intervals are unbounded then
            if fixed:  # ... unless another publication pins them
                raise InconsistentTables("cannot protect " + ", ".join(
                    system.labels[i] for i in narrow) + " against what is published elsewhere")
            break

    out = []
    for t in tables:
        cells = {c: (None if system.index[t.key(c)] in hidden else v) for c, v in t.cells.items()}
        out.append(Table(t.name, dict(t.fixed), t.dims, cells))
    return out
