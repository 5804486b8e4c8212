"""No count of people a report hides can be recovered from everything the organisation
publishes: all its impact reports (organisation, departments, programs) and its open data.

The figures are the reports' own (:class:`warehouse.reports.Report` of every scope, as
``write_reports`` renders them), with the linked count cells each figure shows; the open data is
read from its published files. The proof is :func:`warehouse.suppression.verify_no_disclosure`
over the linked tables of each measure and year: a hidden cell must keep a feasible range of at
least the protection margin. Cells no report and no open-data file shows are given to the
attacker with their true counts (unless the suppression hid them), which only makes it harder.
For an installation of several organisations the attacker also knows how the open data's
departments add up the reports' (:func:`open_data_sums`), whatever the open data calls them.

Figures about a group (its contacts, contact hours, staff hours, and the cost per contact hour,
which gives the hours from the costs shown beside it) are read from the rendered tables by their
row, not from what the report says they link to: one shown where the group's number of clients
is hidden is a disclosure, and the attacker subtracts the ones shown from the totals shown to
recover a hidden one (contacts to within the margin, minutes to within a share of their value).
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from tests.conftest import PipelineRun, use_home
from warehouse import open_data, reports, settings
from warehouse import report_suppression as rsup
from warehouse.suppression import TOTAL, Key, Table, verify_no_disclosure


def every_report(con: duckdb.DuckDBPyConnection, protection: rsup.Protection
                 ) -> list[reports.Report]:
    """The organisation's, every department's and every program's report, as written."""
    out = []
    for scope in reports.scopes(con):
        report = reports.Report(con, scope, protection)
        out.append(report)
        if scope.department_code is not None:
            out += [reports.Report(con, reports.Scope(scope.organisation_code,
                                                      scope.department_code, name, code),
                                   protection) for code, name in report.programs]
    return out


# (table, row) of a report -> the figure about its unit's group of clients it gives away, and
# the mart_impact column that holds it
GROUP_FIGURES = {
    ("outputs", "Kontakte"): ("contacts", "n_contacts"),
    ("outputs", "Kontaktstunden"): ("contact_minutes", "contact_minutes"),
    ("resources", "Kontaktzeit der Fachkräfte (Stunden)"): ("staff_minutes", "staff_minutes"),
    # the costs shown divided by it: the contact hours
    ("cost_per_outcome", "Kosten je Kontaktstunde"): ("contact_minutes", "contact_minutes"),
}
MINUTES = ("contact_minutes", "staff_minutes")


def published_figures(con: duckdb.DuckDBPyConnection, protection: rsup.Protection
                      ) -> tuple[dict[Key, int | None], list[reports.Value], int, list[str]]:
    """Every linked cell the reports show (its count or sum) or hide (None), the sums they
    show, how many report pages were read, and each figure about a group shown where the
    group's number of clients is hidden."""
    shown: dict[Key, int | None] = {}
    sums: list[reports.Value] = []
    about: list[tuple[Key, Key, int, str]] = []

    def publish(key: Key, value: int | None) -> None:
        assert None in (shown.get(key), value) or shown[key] == value, (set(key), value)
        shown[key] = value if shown.get(key) is None else shown[key]

    pages = every_report(con, protection)
    for report in pages:
        for chart in (chart for section in report.sections() for chart in section.charts):
            for label, row in chart.table.rows:
                if (chart.table.measure, label) in GROUP_FIGURES:
                    about += group_figures(report, chart.table, label, row, protection, publish)
                for v in row:
                    if v.is_sum:
                        sums.append(v)
                    else:
                        count_cells(v, publish)
        for record in report.monthly_active():  # the chart's points (no table)
            month = str(reports.MONTHS.index(record["x"]) + 1)
            key = protection.key("cases_active", int(record["Jahr"]), report.unit, month=month)
            publish(key, None if record["value"] is None else int(record["value"]))
    disclosed = [f"{what} {year}: shown, but the number of clients is hidden"
                 for key, clients, year, what in about if shown.get(clients) is None]
    return shown, sums, len(pages), disclosed


def count_cells(v: reports.Value, publish: Callable[[Key, int | None], None]) -> None:
    """The linked cells of people a figure shows (their counts) or hides."""
    if v.part is not None:  # a rate: those it counts, the others, its n
        assert v.n is not None and len(v.cells) == 3
        for key, n in zip(v.cells, (v.part, v.n - v.part, v.n), strict=True):
            publish(key, None if v.suppressed else n)
    elif v.n is not None:  # a count, or the n of a cost per outcome
        assert len(v.cells) == 1, f"a count of people without its cell: {v}"
        publish(v.cells[0], None if v.suppressed else v.n)


def group_figures(report: reports.Report, table: reports.Table, label: str,
                  row: list[reports.Value], protection: rsup.Protection,
                  publish: Callable[[Key, int | None], None]) -> list[tuple[Key, Key, int, str]]:
    """The sums a row about the report's group of clients shows (its true value) or hides, by
    the row's name; and (figure, the group's clients, year, name) of each one shown."""
    family, column = GROUP_FIGURES[(table.measure, label)]
    out = []
    for year, v in zip(map(int, table.columns), row, strict=True):
        true = int(report.impact(year)[column] or 0)
        if v.kind == "euro" and (v.suppressed or not v.value):
            continue  # a cost per hour without costs (or hidden) tells nothing of the hours
        key = protection.key(family, year, report.unit)
        publish(key, None if v.suppressed else true)
        if not v.suppressed and true:
            clients = protection.key("clients_reached", year, report.unit)
            out.append((key, clients, year, f"{label} {report.unit}"))
    return out


def test_no_hidden_count_is_recoverable_from_reports_and_open_data(
        first_run: PipelineRun) -> None:
    assert_nothing_recoverable(first_run)


def test_no_hidden_count_is_recoverable_with_several_organisations(
        three_organisations: PipelineRun) -> None:
    """Outside a federation too, each organisation's department is a unit of its own: in its
    reports and in the open data, whose department totals would otherwise be the sum of the
    same-named departments (``SB`` of ``swm`` and of ``beratung``), from which the one hidden in
    its own reports follows by subtracting the other's, shown in its reports."""
    assert_nothing_recoverable(three_organisations)


def assert_nothing_recoverable(run: PipelineRun) -> None:
    use_home(run.home)
    marts = run.home / "published" / "marts.duckdb"
    folder = run.home / "open_data"
    published_open: list[Table] = []
    for name in open_data.AGGREGATES:
        published_open += open_data.read_aggregate(folder / f"{name}.csv")
    withheld = {t.key(c) for t in published_open for c, v in t.cells.items() if v is None}
    with duckdb.connect(str(marts), read_only=True) as con:
        protection = rsup.protect(con, marts)
        shown, sums, pages, problems = published_figures(con, protection)
        linked = rsup.linked_tables(con, protection.hierarchy)
    assert pages > 5 and any(v is None for v in shown.values())

    covered: set[Key] = set()
    known: dict[Key, int | None] = {}
    for (family, year), tables in linked.items():
        attacker: list[Table] = []
        for t in tables:
            keyed = rsup.KeyedTable(t.name, dict(t.fixed), t.dims,
                                    keys=dict(t.keys))  # type: ignore[attr-defined]
            for cell, true in t.cells.items():
                key = t.key(cell)
                covered.add(key)
                if shown.get(key) is not None:
                    keyed.cells[cell] = shown[key]
                else:
                    # Hidden or shown nowhere: what had to be hidden is unknown, a zero hidden
                    # as a complement too (the suppression relies on it as on any other); the
                    # attacker gets the rest (a rate's n hidden with its small numerator) for
                    # free, which only makes it harder.
                    protected = key in protection.hidden or key in withheld
                    keyed.cells[cell] = None if protected else true
                known[key] = keyed.cells[cell]
            attacker.append(keyed)
        if family == rsup.CLOSED:
            opened = [t for t in published_open if t.fixed["year"] == str(year)]
            attacker += opened + open_data_sums(protection.hierarchy, year, opened, known)
        if family in MINUTES:  # sums of minutes: a margin relative to the hidden value
            truth = {t.key(c): v for t in tables for c, v in t.cells.items()
                     if v is not None}
            verdict = verify_no_disclosure(attacker, 0, settings.MINUTES_MARGIN,
                                           relative=settings.MINUTES_PROTECTION, truth=truth)
        else:
            verdict = verify_no_disclosure(attacker, settings.SUPPRESSION_THRESHOLD,
                                           settings.PROTECTION_MARGIN)
        problems += [f"{family} {year}: {p}" for p in verdict.problems]
    assert not problems, "\n".join(problems[:20])

    # Nothing a report shows is a cell the suppression hid ...
    revealed = [(sorted(k), v) for k, v in shown.items()
                if v is not None and k in protection.hidden]
    assert not revealed, revealed[:5]
    # ... every count a report shows or hides is a cell of the linked tables ...
    # (a figure of a unit without any case in it shows zeros, not cells)
    assert {k for k, v in shown.items() if v != 0} <= covered
    # ... and a sum it shows (a step of the Wirkungstreppe, all goals achieved) adds up only
    # cells that are published, so it tells nothing more.
    for v in sums:
        if not v.suppressed:
            assert all(known.get(k, 0) is not None for k in v.cells), v


def open_data_sums(hierarchy: rsup.Hierarchy, year: int, opened: list[Table],
                   known: dict[Key, int | None]) -> list[Table]:
    """What the attacker knows besides: a department of the open data is the sum of the
    departments of that code in the reports (of every organisation that has one, where the open
    data does not name the organisation). One table per department and count (closed cases,
    planned ends): the reports' cells of the department at each organisation, and the open
    data's cell as their total."""
    departments = sorted({(org, dept) for (org, _), depts in hierarchy.programs.items()
                          for dept in depts})
    labels = {c[1] for t in opened if t.name == "cases_by_end_reason" for c in t.cells} - {TOTAL}
    out: list[Table] = []
    for label in sorted(labels):
        units = [(org, dept, None) for org, dept in departments
                 if label in (dept, f"{org}/{dept}")]
        for reason in ("planned_end", TOTAL):
            extras = {} if reason == TOTAL else {"end_reason_category": reason}
            total = frozenset({"year": str(year), "department_code": label, **extras}.items())
            parts = [rsup.cell_key(hierarchy, rsup.CLOSED, year, u, **extras) for u in units]
            if parts == [total]:
                continue  # the open data's cell is the report's
            table = rsup.KeyedTable(f"open data {label} = {units}", {"year": str(year)},
                                    ("unit",))
            table.cells[(TOTAL,)], table.keys[(TOTAL,)] = None, total  # the open data's value
            for i, key in enumerate(parts):
                # a department without closed cases in the year is in no report table: 0
                table.cells[(str(i),)], table.keys[(str(i),)] = known.get(key, 0), key
            out.append(table)
    return out
