"""Small-cell suppression: adversarial tables with small cells and totals; nothing recoverable.

Each fixture is tiny and named after its trap. The checker is an independent proof (linear
programming on the published cells only); the brute-force test below checks the checker against
every integer table that fits what is published.
"""

from __future__ import annotations

import itertools
import math
import random

from warehouse.suppression import (
    TOTAL,
    Table,
    suppress,
    table_from_counts,
    verify_no_disclosure,
)

T, M = 5, 5  # threshold and protection margin


def two_d(counts: dict[tuple[str, str], int], name: str = "t", year: str = "2024") -> Table:
    rows = sorted({r for r, _ in counts})
    cols = sorted({c for _, c in counts})
    return table_from_counts(name, {"year": year}, ("row", "col"), counts, [rows, cols])


def one_d(counts: dict[str, int]) -> Table:
    return table_from_counts("d1", {"year": "2024"}, ("department",),
                             {(k,): v for k, v in counts.items()}, [sorted(counts)])


def naive(t: Table) -> Table:
    """Primary suppression only: what a careless publisher would print."""
    return Table(t.name, t.fixed, t.dims,
                 {c: (None if v is not None and 0 < v < T else v) for c, v in t.cells.items()})


def published_values(tables: list[Table]) -> list[int]:
    return [v for t in tables for v in t.cells.values() if v is not None]


def assert_safe(true: list[Table]) -> list[Table]:
    out = suppress(true, T, M)
    report = verify_no_disclosure(out, T, M)
    assert report.ok, report.problems
    assert all(v == 0 or v >= T for v in published_values(out))
    # every primary cell is hidden; nothing published differs from the truth
    for t_true, t_out in zip(true, out, strict=True):
        for cell, v in t_true.cells.items():
            if 0 < v < T:  # type: ignore[operator]
                assert t_out.cells[cell] is None, cell
            if t_out.cells[cell] is not None:
                assert t_out.cells[cell] == v
    return out


def test_row_with_a_single_small_cell() -> None:
    true = two_d({("a", "x"): 3, ("a", "y"): 20, ("a", "z"): 30,
                  ("b", "x"): 40, ("b", "y"): 50, ("b", "z"): 60})
    # Primary suppression alone leaves the 3 recoverable from its row total.
    report = verify_no_disclosure([naive(true)], T, M)
    assert not report.ok and "[3, 3]" in report.problems[0]
    out = assert_safe([true])
    row_a = [v for (r, c), v in out[0].cells.items() if r == "a" and c != TOTAL]
    assert row_a.count(None) >= 2


def test_column_whose_only_other_cell_is_also_small() -> None:
    # Column x = 2 + 1: both hidden, but their column total 3 would bound them to [0, 3]:
    # too narrow, so the total (itself < 5) and more cells must go.
    true = two_d({("a", "x"): 2, ("a", "y"): 40, ("b", "x"): 1, ("b", "y"): 35,
                  ("c", "x"): 0, ("c", "y"): 25})
    out = assert_safe([true])
    assert out[0].cells[(TOTAL, "x")] is None


def test_naive_suppression_recoverable_through_column_totals() -> None:
    # Two small cells in one row (row rule satisfied), but each alone in its column:
    # the column totals give both away.
    true = two_d({("a", "x"): 2, ("a", "y"): 3, ("a", "z"): 50,
                  ("b", "x"): 30, ("b", "y"): 40, ("b", "z"): 60})
    report = verify_no_disclosure([naive(true)], T, M)
    assert not report.ok and len(report.problems) == 2
    assert_safe([true])


def test_bridge_pattern_passes_the_two_per_line_rule_but_not_the_proof() -> None:
    # Two 2x2 blocks of hidden cells joined by one hidden cell: every row and column with a "."
    # has at least two, yet the joining cell is determined (it is a bridge of the pattern).
    cells = {(r, c): 100 for r in "abcd" for c in "wxyz"}
    t = two_d(cells)
    hidden = {("a", "w"), ("a", "x"), ("b", "w"), ("b", "x"),
              ("c", "y"), ("c", "z"), ("d", "y"), ("d", "z"), ("a", "y")}
    published = Table(t.name, t.fixed, t.dims,
                      {c: (None if c in hidden else v) for c, v in t.cells.items()})
    for r in "abcd":
        assert sum(published.cells[(r, c)] is None for c in "wxyz") in (0, 2, 3)
    report = verify_no_disclosure([published], T, M)
    assert not report.ok
    assert any("['a', 'y']" in p and "[100, 100]" in p for p in report.problems)


def test_one_dimensional_table_with_total() -> None:
    true = one_d({"SB": 40, "SUB": 2, "MBE": 30, "AJH": 25})
    report = verify_no_disclosure([naive(true)], T, M)
    assert not report.ok  # one "." and a total: total minus the rest
    out = assert_safe([true])
    assert sum(v is None for v in out[0].cells.values()) >= 2
    # the complement is the smallest other cell
    assert out[0].cells[("AJH",)] is None and out[0].cells[("MBE",)] == 30


def test_one_dimensional_small_total() -> None:
    true = one_d({"SB": 1, "SUB": 2, "MBE": 0})
    out = assert_safe([true])
    assert out[0].cells[(TOTAL,)] is None


def test_linked_tables_differencing_through_shared_margin() -> None:
    # Department totals published twice: a 1-D table and the margin of region x department.
    # Suppressed one by one, each hides the small SUB total with a different complement
    # (MBE in one, SB in the other); together they give the SUB total away.
    by_department = table_from_counts(
        "department", {"year": "2024"}, ("department",),
        {("SB",): 30, ("SUB",): 3, ("MBE",): 40}, [["MBE", "SB", "SUB"]])
    by_region = table_from_counts(
        "region", {"year": "2024"}, ("region", "department"),
        {("041", "SB"): 15, ("042", "SB"): 15, ("041", "SUB"): 2, ("042", "SUB"): 1,
         ("041", "MBE"): 20, ("042", "MBE"): 20},
        [["041", "042"], ["MBE", "SB", "SUB"]])
    hide_1d = {("SUB",), ("MBE",)}
    hide_2d = {(TOTAL, "SUB"), (TOTAL, "SB"), ("041", "SUB"), ("042", "SUB"),
               ("041", "SB"), ("042", "SB")}
    alone = [
        Table("department", by_department.fixed, by_department.dims,
              {c: (None if c in hide_1d else v) for c, v in by_department.cells.items()}),
        Table("region", by_region.fixed, by_region.dims,
              {c: (None if c in hide_2d else v) for c, v in by_region.cells.items()}),
    ]
    assert all(verify_no_disclosure([t], T, M).ok for t in alone)
    report = verify_no_disclosure(alone, T, M)
    assert not report.ok
    assert any("department['SUB']" in p and "[3, 3]" in p for p in report.problems)
    # suppressed together, the shared totals are hidden or published alike and nothing leaks
    out = assert_safe([by_department, by_region])
    for d in ("SB", "SUB", "MBE"):
        assert (out[0].cells[(d,)] is None) == (out[1].cells[(TOTAL, d)] is None)


def test_checker_fails_on_a_deliberately_unsafe_table() -> None:
    leaked = two_d({("a", "x"): 3, ("a", "y"): 8, ("b", "x"): 9, ("b", "y"): 10})
    # the 3 printed as is, and one "." that its row total gives away
    leaked.cells[("b", "y")] = None
    report = verify_no_disclosure([leaked], T, M)
    assert not report.ok
    assert any("below 5" in p for p in report.problems)
    assert any("['b', 'y']" in p for p in report.problems)


def test_checker_rejects_inconsistent_publications() -> None:
    t = two_d({("a", "x"): 7, ("a", "y"): 8, ("b", "x"): 9, ("b", "y"): 10})
    t.cells[(TOTAL, TOTAL)] = 35
    assert not verify_no_disclosure([t], T, M).ok


def test_zeros_are_published() -> None:
    true = two_d({("a", "x"): 0, ("a", "y"): 40, ("b", "x"): 20, ("b", "y"): 35})
    out = assert_safe([true])
    assert out[0].cells[("a", "x")] == 0


def test_checker_intervals_equal_brute_force_over_integer_tables() -> None:
    """On small random tables, the interval the checker proves for each "." is exactly the
    range of that cell over every non-negative integer table that fits the published cells."""
    rng = random.Random(11)
    checked = 0
    for _ in range(40):
        counts = {(r, c): rng.choice([0, 1, 2, 3, 4, 6, 9]) for r in "ab" for c in "xyz"}
        true = two_d(counts)
        out = suppress([true], T, M)[0]
        hidden = [c for c, v in out.cells.items() if v is None and TOTAL not in c]
        known = {c: v for c, v in out.cells.items() if v is not None}

        def bound(cell: tuple[str, ...], known: dict[tuple[str, ...], int] = known) -> int:
            options = [known.get((cell[0], TOTAL)), known.get((TOTAL, cell[1])),
                       known.get((TOTAL, TOTAL))]
            return min([o for o in options if o is not None] or [60])

        bounds = [bound(c) for c in hidden]
        if not hidden or math.prod(b + 1 for b in bounds) > 30_000:
            continue
        seen: dict[tuple[str, ...], set[int]] = {c: set() for c in hidden}
        margins = [(c, v) for c, v in known.items() if TOTAL in c]
        fixed_inner = {c: v for c, v in known.items() if TOTAL not in c}
        for values in itertools.product(*(range(b + 1) for b in bounds)):
            inner = {**fixed_inner, **dict(zip(hidden, values, strict=True))}
            if all(sum(n for (r, c), n in inner.items()
                       if m[0] in (TOTAL, r) and m[1] in (TOTAL, c)) == v for m, v in margins):
                for c, v in zip(hidden, values, strict=True):
                    seen[c].add(v)
        system_report = verify_no_disclosure([out], T, M)
        assert system_report.ok
        for cell in hidden:
            assert true.cells[cell] in seen[cell]
            width = max(seen[cell]) - min(seen[cell])
            assert width >= M, (cell, sorted(seen[cell]))
        # exact, not just safe: the checker's narrowest interval is the brute-force one (LP
        # bounds of a 2-D table with margins are integral), where the grand total bounds all
        if known.get((TOTAL, TOTAL)) is not None:
            assert system_report.narrowest == min(max(v) - min(v) for v in seen.values())
        checked += 1
    assert checked >= 10



def minutes_tables() -> list[Table]:
    """Contact minutes of two departments X and Y, with program C run by both (and so a table
    of its own: its minutes at X and at Y add up to its total)."""
    def table(name: str, fixed: dict[str, str], dim: str, counts: dict[str, int]) -> Table:
        return table_from_counts(name, {"year": "2025", **fixed}, (dim,),
                                 {(k,): v for k, v in counts.items()}, [sorted(counts)])

    return [table("X", {"department": "X"}, "program", {"A": 400, "B": 590, "C": 6}),
            table("C", {"program": "C"}, "department", {"X": 6, "Y": 4}),
            table("Y", {"department": "Y"}, "program", {"C": 4, "E": 50, "F": 46})]


def test_a_hidden_sum_needs_a_margin_relative_to_its_value() -> None:
    # Program A of department X has one client and 400 minutes (withheld: its count is
    # hidden). Hiding C as its complement, and C's other cells to protect C, leaves A in
    # 396..406: the one client's hours to within 10 minutes, though an absolute margin of 5
    # holds for every hidden cell.
    true = minutes_tables()
    truth = {t.key(c): v for t in true for c, v in t.cells.items() if v is not None}
    hide = {"X": {("A",), ("C",)}, "C": {("X",), ("Y",)}, "Y": {("C",), ("F",)}}
    lone = [Table(t.name, t.fixed, t.dims,
                  {c: (None if c in hide[t.name] else v) for c, v in t.cells.items()})
            for t in true]
    assert verify_no_disclosure(lone, 0, M).ok
    report = verify_no_disclosure(lone, 0, M, relative=0.5, truth=truth)
    assert any("X['A']" in p and "[396, 406]" in p and "< 200" in p for p in report.problems)

    out = suppress(true, 0, M, withheld=[true[0].key(("A",))], relative=0.5)
    assert out[0].cells[("A",)] is None
    assert verify_no_disclosure(out, 0, M, relative=0.5, truth=truth).ok
    # the relative margin is what hid more: without it, the pattern above is enough
    plain = suppress(true, 0, M, withheld=[true[0].key(("A",))])
    assert verify_no_disclosure(plain, 0, M).ok
    assert not verify_no_disclosure(plain, 0, M, relative=0.5, truth=truth).ok
    # the department totals are no small sums: they stay
    assert out[0].cells[(TOTAL,)] == 996 and out[2].cells[(TOTAL,)] == 100
