"""Impact reports (Wirkungsberichte) for departments and the organisation's management.

After every publication, :func:`write_reports` makes, from the published generation, one report
per department and one for the whole organisation, following the Social Reporting Standard's
chapter on resources, outputs and outcomes:

- resources (Input): costs by category, revenues, staff time;
- outputs (Leistungen): clients reached, contacts, contact hours;
- outcomes along the Wirkungstreppe: acceptance (step 3), skills (4), behaviour (5), life
  situation (6), goals attained by domain, improvement by problem area, planned ends;
- cost per outcome.

Every figure stands for the report year beside the year before, as a chart with a short table
under it, with its n. Counts of people and rates whose n is below the open-data suppression
threshold (:data:`warehouse.settings.SUPPRESSION_THRESHOLD`) are shown as "." and left out of
the charts; so is a rate whose people on either side (its numerator, or n minus it) are 1 to
threshold - 1: 40 % of 5 would show the 2 planned ends that the cost per planned end hides, as
the open data hides such a count. Figures about a group whose count is hidden (its contacts,
contact hours, staff hours, cost per contact hour) are hidden with it. Figures from which a
hidden count could be recovered by adding and subtracting across all reports and the open data
are hidden too (secondary suppression: :mod:`warehouse.report_suppression`). The report says so.

Each report is one self-contained HTML file (charts are inline SVG rendered by Vega-Lite
through ``vl-convert``, no script, no web font, nothing loaded from elsewhere) and a PDF printed
from it by Chromium (:mod:`warehouse.pdf`: one browser for all reports of a call). They are
written to ``reports/<org>/<department>/<date>/`` (the organisation's to
``reports/<org>/_organisation/<date>/``) under a temporary name and renamed into place;
``latest`` is swapped atomically, as for the department exports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import shutil
import uuid
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb

from warehouse import files, labels, paths, settings
from warehouse import report_suppression as rsup
from warehouse.exports import LOCAL_TZ, _point_latest, _prune, _swap_in, publication_day, today
from warehouse.pdf import Printer
from warehouse.publish import generation_source

log = logging.getLogger(__name__)

ORGANISATION = "_organisation"  # folder of the organisation-wide report (not a department code)
HTML_NAME = "wirkungsbericht.html"
PDF_NAME = "wirkungsbericht.pdf"
RETENTION = 14
TEMPLATE = Path(__file__).with_name("templates") / "impact_report.html.j2"
THIS_YEAR_COLOUR, LAST_YEAR_COLOUR = "#1f5f8b", "#9ab8cf"




def german_number(value: float, decimals: int = 0) -> str:
    """1234.5 -> '1.234,5' (German grouping and decimal comma)."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


FORMATTERS: dict[str, Callable[[float], str]] = {
    "count": lambda v: german_number(v),
    "percent": lambda v: german_number(100 * v, 1) + " %",
    "euro": lambda v: german_number(v, 2) + " €",
    "hours": lambda v: german_number(v, 1),
}


def german_date(day: dt.date) -> str:
    """31.12.2025."""
    return day.strftime("%d.%m.%Y")




def _few(n: int | None) -> bool:
    """A count of people the open data would suppress."""
    return n is not None and 0 < n < settings.SUPPRESSION_THRESHOLD


@dataclass(frozen=True)
class Value:
    """One figure with its n: shown as '.' when the n is below the threshold, '–' when empty.
    A rate also when its ``part`` (the people it counts) or ``n - part`` (the others) is."""

    value: float | None
    n: int | None
    kind: str
    part: int | None = None  # a rate's numerator
    hidden: bool = False  # secondary suppression (warehouse.report_suppression)
    # the linked count cells it shows (a count's, a rate's both sides and n), or adds up
    cells: tuple[frozenset[tuple[str, str]], ...] = ()
    is_sum: bool = False

    @property
    def suppressed(self) -> bool:
        if self.hidden or _few(self.n):
            return True
        return (self.part is not None and self.n is not None
                and (_few(self.part) or _few(self.n - self.part)))

    @property
    def shown(self) -> float | None:
        return None if self.suppressed or self.value is None else self.value

    @property
    def text(self) -> str:
        if self.suppressed:
            return "."
        if self.value is None:
            return "–"
        return FORMATTERS[self.kind](self.value)

    @property
    def n_text(self) -> str:
        if self.n is None:
            return ""
        return "." if self.suppressed else german_number(self.n)


def count(n: Any) -> Value:
    """A count of people or cases: its own n."""
    n = int(n or 0)
    return Value(n, n, "count")


def rate(numerator: Any, denominator: Any) -> Value:
    num, den = int(numerator or 0), int(denominator or 0)
    return Value(num / den if den else None, den, "percent", num)


def money(amount: Any) -> Value:
    return Value(None if amount is None else float(amount), None, "euro")


def per(amount: Any, denominator: Any, kind: str = "euro") -> Value:
    """Cost per outcome: empty without outcomes, suppressed when they are few."""
    den = float(denominator or 0)
    value = float(amount) / den if amount is not None and den else None
    return Value(value, int(den) if kind == "euro" else None, kind)


@dataclass
class Table:
    """The short table under a chart: a row label, then one cell per column."""

    columns: list[str]
    rows: list[tuple[str, list[Value]]]
    measure: str  # data-measure of the cells (tests and readers locate figures by it)
    row_key: str = "row"


@dataclass
class Chart:
    title: str
    svg: str
    table: Table
    note: str = ""


@dataclass
class Section:
    title: str
    intro: str
    charts: list[Chart] = field(default_factory=list)




SVG_LOCALE: Final = "de-DE"
# The keys of the charts the current ``write_reports`` drew: the cache keeps only those.
_DRAWN: ContextVar[set[str] | None] = ContextVar("drawn_charts", default=None)


@functools.cache
def _converter_version() -> str:
    """A new vl-convert may draw the same spec differently: it is part of a chart's key."""
    return importlib.metadata.version("vl-convert-python")


def _svg(chart: Any) -> str:
    """Vega-Lite to SVG, offline, German number and date formats, no external URL allowed.

    Each distinct spec is converted once (most of a report's cost) and kept in
    ``paths.chart_cache_dir()`` by its hash: a chart whose figures did not change since the
    last run, or that another report already drew (a department with one program), is read."""
    import vl_convert as vlc

    spec = chart.to_dict(validate=False)  # validated below, when it is converted
    key = hashlib.sha256(json.dumps(
        [_converter_version(), SVG_LOCALE, spec], sort_keys=True).encode()).hexdigest()
    if (drawn := _DRAWN.get()) is not None:
        drawn.add(key)
    cached = paths.chart_cache_dir() / f"{key}.svg"
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    svg: str = vlc.vegalite_to_svg(chart.to_dict(), allowed_base_urls=[],
                                   format_locale=SVG_LOCALE, time_format_locale=SVG_LOCALE)
    # Renamed into place, so a reader never sees half a file; a cache that cannot be written
    # (a full disk too) only costs the next run a drawing.
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        files.write_text_atomically(cached, svg)
    return svg


def _forget_undrawn(drawn: set[str]) -> None:
    """Remove the cached charts no report of this run drew (the cache holds one night's)."""
    folder = paths.chart_cache_dir()
    for cached in folder.glob("*.svg") if folder.is_dir() else ():
        if cached.stem not in drawn:
            cached.unlink(missing_ok=True)


def _frame(records: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame.from_records(records)


def year_bars(title: str, records: list[dict[str, Any]], y_format: str,
              years: tuple[int, int]) -> str:
    """Grouped bars: one group per category (``x``), last year beside this year."""
    import altair as alt

    records = [{**r, "x": "(ohne Bezeichnung)" if r["x"] is None else r["x"]} for r in records]
    data = _frame([r for r in records if r["value"] is not None])
    if data.empty:
        data = _frame([{"x": "(keine Angaben)", "Jahr": str(years[1]), "value": 0}])
    order = list(dict.fromkeys(r["x"] for r in records)) or ["(keine Angaben)"]
    chart = alt.Chart(data, title=title, width=alt.Step(22)).mark_bar().encode(
        x=alt.X("x:N", sort=order, title=None, scale=alt.Scale(domain=order),
                axis=alt.Axis(labelAngle=-30, labelLimit=160)),
        xOffset=alt.XOffset("Jahr:N", sort=[str(y) for y in years]),
        y=alt.Y("value:Q", title=None, axis=alt.Axis(format=y_format)),
        color=alt.Color("Jahr:N", sort=[str(y) for y in years], scale=alt.Scale(
            domain=[str(y) for y in years], range=[LAST_YEAR_COLOUR, THIS_YEAR_COLOUR])),
        # as channels, not shorthand strings: altair parses each string against its whole
        # schema (a tenth of a second per chart)
        tooltip=[alt.Tooltip("x:N"), alt.Tooltip("Jahr:N"), alt.Tooltip("value:Q")],
    ).properties(height=220)
    return _svg(chart)


def staircase(title: str, records: list[dict[str, Any]], years: tuple[int, int]) -> str:
    """The Wirkungstreppe: one bar per step, from step 3 up to 6, last year beside this year,
    with this year's results joined as a staircase line."""
    import altair as alt

    data = _frame([r for r in records if r["value"] is not None])
    if data.empty:
        data = _frame([{"x": records[0]["x"], "Jahr": str(years[1]), "value": 0}])
    order = list(dict.fromkeys(r["x"] for r in records))
    year_order = [str(y) for y in years]
    colour = alt.Color("Jahr:N", sort=year_order, scale=alt.Scale(
        domain=year_order, range=[LAST_YEAR_COLOUR, THIS_YEAR_COLOUR]))
    x = alt.X("x:N", sort=order, title="Stufe der Wirkungstreppe", scale=alt.Scale(domain=order),
              axis=alt.Axis(labelAngle=0, labelLimit=200))
    y = alt.Y("value:Q", title=None, axis=alt.Axis(format=".0%"),
              scale=alt.Scale(domain=[0, 1]))
    bars = alt.Chart(data).mark_bar().encode(
        x=x, xOffset=alt.XOffset("Jahr:N", sort=year_order), y=y, color=colour)
    labels_ = alt.Chart(data).mark_text(dy=-6, fontSize=10).encode(
        x=x, xOffset=alt.XOffset("Jahr:N", sort=year_order), y=y,
        text=alt.Text("value:Q", format=".0%"))
    steps = alt.Chart(data).transform_filter(
        alt.datum.Jahr == year_order[1]).mark_line(
        interpolate="step", color="#444", strokeDash=[4, 3]).encode(x=x, y=y)
    chart = alt.layer(bars, labels_, steps, title=title).properties(
        width=alt.Step(40), height=240)
    return _svg(chart)


def trend(title: str, records: list[dict[str, Any]], y_format: str, by: str = "Jahr",
          x_order: Sequence[str] | None = None, x_title: str | None = None) -> str:
    """Lines over months (one line per year) or over years (one line per program)."""
    import altair as alt

    data = _frame([r for r in records if r["value"] is not None])
    if data.empty:
        data = _frame([{"x": 0, by: "", "value": 0}])
    chart = alt.Chart(data, title=title).mark_line(point=True).encode(
        x=alt.X("x:O", title=x_title, sort=list(x_order) if x_order else "ascending",
                axis=alt.Axis(labelAngle=0, labelOverlap=True)),
        y=alt.Y("value:Q", title=None, axis=alt.Axis(format=y_format)),
        color=alt.Color(f"{by}:N", title=by),
    ).properties(width=460, height=200)
    return _svg(chart)




@dataclass(frozen=True)
class Scope:
    """What one report covers: an organisation, one of its departments, or one program."""

    organisation_code: str
    department_code: str | None
    name: str
    program_code: str | None = None

    @property
    def folder(self) -> str:
        return self.department_code or ORGANISATION

    def where(self, alias: str = "") -> tuple[str, list[str]]:
        prefix = f"{alias}." if alias else ""
        sql, params = f"{prefix}organisation_code = ?", [self.organisation_code]
        for column, value in (("department_code", self.department_code),
                              ("program_code", self.program_code)):
            if value:
                sql += f" and {prefix}{column} = ?"
                params.append(value)
        return sql, params


IMPACT_SUMS = (
    "costs_eur", "personnel_costs_eur", "material_costs_eur", "premises_costs_eur",
    "administration_costs_eur", "depreciation_costs_eur", "other_costs_eur", "revenues_eur",
    "grants_eur", "fees_eur", "donations_eur", "membership_fees_eur", "other_revenues_eur",
    "staff_minutes", "n_contacts", "contact_minutes", "n_clients_reached", "n_cases_started",
    "n_cases_accepted", "n_goals_rated_skills", "n_goals_achieved_skills",
    "n_assessed_pairs_skills", "n_improved_pairs_skills", "n_goals_rated_behaviour",
    "n_goals_achieved_behaviour", "n_assessed_pairs_behaviour", "n_improved_pairs_behaviour",
    "n_goals_rated_life_situation", "n_goals_achieved_life_situation",
    "n_assessed_pairs_life_situation", "n_improved_pairs_life_situation", "n_cases_closed",
    "n_planned_ends", "n_goals_rated", "n_goals_achieved",
)
# finance category (seed code_labels_de, list "category") -> mart_impact column
COST_CATEGORIES = {"personnel": "personnel_costs_eur", "material": "material_costs_eur",
                   "premises": "premises_costs_eur", "administration": "administration_costs_eur",
                   "depreciation": "depreciation_costs_eur", "other_costs": "other_costs_eur"}
REVENUE_CATEGORIES = ("grants", "fees", "donations", "membership_fees", "other_revenues")
STEPS = ((4, "skills"), (5, "behaviour"), (6, "life_situation"))
MONTHS = ("Jan", "Feb", "Mär", "Apr", "Mai", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dez")


def _database_file(con: duckdb.DuckDBPyConnection) -> Path:
    row = con.execute("select path from duckdb_databases() "
                      "where database_name = current_database()").fetchone()
    assert row is not None and row[0], "reports are read from a database file"
    return Path(row[0])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any]) -> list[dict]:
    relation = con.execute(sql, list(params))
    names = [d[0] for d in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def _step_result(name: str) -> Callable[[dict[str, Any]], Value]:
    """Positive results on one step of the Wirkungstreppe: achieved goals and improved problem
    areas, over rated goals and assessed pairs."""

    def result(r: dict[str, Any]) -> Value:
        return rate(
            (r[f"n_goals_achieved_{name}"] or 0) + (r[f"n_improved_pairs_{name}"] or 0),
            (r[f"n_goals_rated_{name}"] or 0) + (r[f"n_assessed_pairs_{name}"] or 0))

    return result


class Report:
    """The figures of one scope, read from one published generation."""

    def __init__(self, con: duckdb.DuckDBPyConnection, scope: Scope,
                 protection: rsup.Protection | None = None) -> None:
        self.con, self.scope = con, scope
        # computed for all reports at once by write_reports; alone, from this publication
        self.protection = protection or rsup.protect(con, _database_file(con))
        self.unit: rsup.Unit = (scope.organisation_code, scope.department_code,
                                scope.program_code)
        where, params = scope.where()
        sums = ", ".join(f"sum({c}) as {c}" for c in IMPACT_SUMS)
        self.by_year = {r["year"]: r for r in _records(
            con, f"select year, {sums} from mart_impact where {where} group by year", params)}
        self.by_program = _records(
            con, f"select year, program_code, "
                 # a program only a cost centre names has no name yet: show its code
                 f"any_value(coalesce(program_name, program_code)) as program_name, {sums} "
                 f"from mart_impact where {where} group by all order by program_code, year",
            params)
        years = sorted(self.by_year)
        self.year = years[-1] if years else today().year
        self.last = self.year - 1
        self.years = (self.last, self.year)
        self.programs = list(dict.fromkeys((r["program_code"], r["program_name"])
                                           for r in self.by_program))

    def impact(self, year: int) -> dict[str, Any]:
        return self.by_year.get(year) or dict.fromkeys(IMPACT_SUMS)

    def program_unit(self, code: str) -> rsup.Unit:
        return (self.scope.organisation_code, self.scope.department_code, code)

    def guard(self, value: Value, family: str, year: int, unit: rsup.Unit | None = None,
              **extras: str) -> Value:
        """``value`` hidden where the count(s) it shows are hidden in the linked tables."""
        unit = self.unit if unit is None else unit
        outcomes = ("outcome" if family.partition("|")[0] in ("effects", "cases_started")
                    else "end_reason_category" if family == rsup.CLOSED else None)
        if value.part is not None and outcomes:  # a rate shows both sides and its n
            sides = ((rsup.HIT, rsup.MISS) if outcomes == "outcome"
                     else ("planned_end", rsup.NOT_PLANNED))
            keys = [self.protection.key(family, year, unit, **{outcomes: v})
                    for v in (*sides, rsup.TOTAL)]
        else:
            keys = [self.protection.key(family, year, unit, **extras)]
        return dataclasses.replace(value, hidden=value.hidden or self.protection.hides(keys),
                                   cells=tuple(keys))

    def guard_sum(self, value: Value, year: int, step: str | None = None) -> Value:
        """A sum of goals and problem areas (a step's, or all goals'): shown where all are."""
        keys = self.protection.sum_keys(year, self.unit, step)
        return dataclasses.replace(value, hidden=value.hidden or self.protection.hides(keys),
                                   cells=tuple(keys), is_sum=True)

    def program(self, code: str, year: int) -> dict[str, Any]:
        for r in self.by_program:
            if r["program_code"] == code and r["year"] == year:
                return r
        return dict.fromkeys(IMPACT_SUMS)

    # ----------------------------------------------------------------- sections

    def resources(self) -> Section:
        section = Section("Ressourcen (Input)", "Kosten nach Kategorien, Erlöse und Kontaktzeit "
                          "der Fachkräfte mit Klient:innen (aus der Buchhaltung über Kostenstellen "
                          "und aus den Kontakten der Fachsoftware; eine Gruppensitzung zählt je "
                          "Teilnehmer:in).")
        rows, records = [], []
        for category, column in COST_CATEGORIES.items():
            label = labels.code_text("category", category) or category
            values = [money(self.impact(y)[column]) for y in self.years]
            rows.append((label, values))
            records += [{"x": label, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        rows.append(("Kosten insgesamt", [money(self.impact(y)["costs_eur"]) for y in self.years]))
        for category in REVENUE_CATEGORIES:
            column = f"{category}_eur"
            label = labels.column("mart_impact", column).label.removesuffix(" (€)")
            rows.append((label, [money(self.impact(y)[column]) for y in self.years]))
        rows.append(("Erlöse insgesamt",
                     [money(self.impact(y)["revenues_eur"]) for y in self.years]))
        rows.append(("Kontaktzeit der Fachkräfte (Stunden)",
                     [self.guard(per(self.impact(y)["staff_minutes"], 60, "hours"),
                                 "staff_minutes", y) for y in self.years]))
        section.charts.append(Chart(
            "Kosten nach Kategorie",
            year_bars("Kosten nach Kategorie (€)", records, ",.0f", self.years),
            Table([str(y) for y in self.years], rows, "resources")))
        months = self.monthly_costs()
        section.charts.append(Chart(
            "Kosten je Monat",
            trend("Kosten je Monat (€)", months, ",.0f", x_order=MONTHS, x_title="Monat"),
            Table([str(y) for y in self.years], [
                (MONTHS[m - 1], [money(next((r["value"] for r in months if r["Jahr"] == str(y)
                                            and r["x"] == MONTHS[m - 1]), None))
                                 for y in self.years]) for m in range(1, 13)],
                "monthly_costs")))
        return section

    def monthly_costs(self) -> list[dict[str, Any]]:
        where, params = self.scope.where()
        rows = _records(self.con, f"""
            select year, month(month) as m, sum(costs_eur) as costs
            from mart_finance_by_cost_centre_month
            where {where} and category_type = 'cost' and year in (?, ?)
            group by all order by all""", [*params, *self.years])
        return [{"x": MONTHS[r["m"] - 1], "Jahr": str(r["year"]), "value": float(r["costs"])}
                for r in rows]

    def outputs(self) -> Section:
        section = Section("Leistungen (Output)", "Erreichte Klient:innen (mit mindestens einem "
                          "Kontakt im Jahr), Kontakte und Kontaktstunden. Summen über Angebote "
                          "zählen eine Person, die zwei Angebote nutzt, zweimal.")
        rows, records = [], []
        for code, name in self.programs:
            values = [self.guard(count(self.program(code, y)["n_clients_reached"]),
                                 "clients_reached", y, self.program_unit(code))
                      for y in self.years]
            rows.append((f"{name} ({code})", values))
            records += [{"x": name, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        total = [self.guard(count(self.impact(y)["n_clients_reached"]), "clients_reached", y)
                 for y in self.years]
        rows.append(("Insgesamt", total))
        section.charts.append(Chart(
            "Erreichte Klient:innen je Angebot",
            year_bars("Erreichte Klient:innen je Angebot", records, ",.0f", self.years),
            Table([str(y) for y in self.years], rows, "clients_reached", "program")))
        contacts = [
            ("Kontakte", [self.guard(count(self.impact(y)["n_contacts"]), "contacts", y)
                          for y in self.years]),
            # about the clients reached: shown where their count is (report_suppression)
            ("Kontaktstunden",
             [self.guard(per(self.impact(y)["contact_minutes"], 60, "hours"),
                         "contact_minutes", y) for y in self.years]),
            ("Neuzugänge", [self.guard(count(self.impact(y)["n_cases_started"]),
                                       "cases_started", y) for y in self.years]),
        ]
        active = self.monthly_active()
        section.charts.append(Chart(
            "Betreute Fälle je Monat",
            trend("Betreute Fälle je Monat", active, ",.0f", x_order=MONTHS,
                  x_title="Monat"),
            Table([str(y) for y in self.years], contacts, "outputs")))
        return section

    def monthly_active(self) -> list[dict[str, Any]]:
        where, params = self.scope.where()
        rows = _records(self.con, f"""
            select year, month(period_start) as m, sum(n_cases_active) as active
            from mart_outcomes where {where} and period_type = 'month'
            group by all order by all""", params)
        # a month with few cases is suppressed like any other count of people
        return [{"x": MONTHS[r["m"] - 1], "Jahr": str(r["year"]),
                 "value": self.guard(count(r["active"]), "cases_active", r["year"],
                                     month=str(r["m"])).shown} for r in rows]

    def outcomes(self) -> Section:
        section = Section("Wirkungen (Outcome)", "Die Wirkungstreppe: Annahme des Angebots "
                          "(Stufe 3), Veränderung von Fähigkeiten (4), Verhalten (5) und "
                          "Lebenslage (6) – erreichte Ziele und verbesserte Problembereiche "
                          "zusammen –, dazu Ziele nach Lebensbereich, Problembereiche und "
                          "planmäßige Beendigungen.")
        steps: list[tuple[int, str, Callable[[dict[str, Any]], Value]]] = [
            (3, "3 Annahme", lambda r: rate(r["n_cases_accepted"], r["n_cases_started"]))]
        for step, name in STEPS:
            text = labels.code_text("wirkungstreppe_step_name", name) or name
            steps.append((step, f"{step} {text}", _step_result(name)))
        rows, records = [], []
        for step, label, fn in steps:
            # step 3 is a count of its own; steps 4-6 add up goals and problem areas, shown
            # only where all of them are
            values = [self.guard(fn(self.impact(y)), "cases_started", y) if step == 3 else
                      self.guard_sum(fn(self.impact(y)), y, str(step))
                      for y in self.years]
            rows.append((label, values))
            records += [{"x": label, "step": step - 3, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        section.charts.append(Chart(
            "Wirkungstreppe", staircase("Wirkungstreppe: Anteil positiver Ergebnisse je Stufe",
                                        records, self.years),
            Table([str(y) for y in self.years], rows, "wirkungstreppe"),
            "Stufe 3: angenommene Fälle je Neuzugang. Stufen 4–6: erreichte Ziele und verbesserte "
            "Problembereiche je bewertetem Ziel und Vorher/Nachher-Paar."))
        section.charts.append(self._goals_by_domain())
        section.charts.append(self._problem_areas())
        section.charts.append(self._planned_ends())
        return section

    def _goals_by_domain(self) -> Chart:
        where, params = self.scope.where()
        rows = _records(self.con, f"""
            select end_year as year, domain, count(*) filter (where is_rated) as rated,
                   count(*) filter (where is_achieved) as achieved
            from fct_goals where {where} and case_status = 'closed' and end_year in (?, ?)
            group by all order by all""", [*params, *self.years])
        table_rows, records = self._rates_by_category(
            rows, "domain", "achieved", "rated",
            lambda domain: labels.code_text("goal_domain", domain) or domain, rsup.GOAL)
        return Chart("Ziele erreicht nach Lebensbereich",
                     year_bars("Zielerreichungsquote nach Lebensbereich", records, ".0%",
                               self.years),
                     Table([str(y) for y in self.years], table_rows, "goals_by_domain"),
                     "Erreichte je bewertete Ziele (GAS ≥ 0) der im Jahr beendeten Fälle.")

    def _rates_by_category(
        self, rows: list[dict[str, Any]], category: str, hits: str, of: str,
        label: Callable[[str], str], item: str,
    ) -> tuple[list[tuple[str, list[Any]]], list[dict[str, Any]]]:
        """Table rows and chart records of the rate ``hits``/``of`` per category (sorted) and
        year (last year, this year) from rows of (year, category, hits, of); rate(0, 0) where a
        category has no row in a year."""
        found = {(r[category], r["year"]): rate(r[hits], r[of]) for r in rows}
        table_rows, records = [], []
        for code in sorted({r[category] for r in rows}):
            shown = label(code)
            values = [self.guard(found.get((code, y), rate(0, 0)), f"effects|{item}{code}", y)
                      for y in self.years]
            table_rows.append((shown, values))
            records += [{"x": shown, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        return table_rows, records

    def _problem_areas(self) -> Chart:
        where, params = self.scope.where()
        rows = _records(self.con, f"""
            select year, dimension, sum(n_improved_pairs) as improved,
                   sum(n_assessed_pairs) as assessed
            from mart_outcomes_by_dimension
            where {where} and period_type = 'year' and year in (?, ?)
            group by all order by all""", [*params, *self.years])
        table_rows, records = self._rates_by_category(
            rows, "dimension", "improved", "assessed", lambda dimension: dimension, rsup.PAIR)
        return Chart("Verbesserung nach Problembereich",
                     year_bars("Anteil verbessert nach Problembereich", records, ".0%",
                               self.years),
                     Table([str(y) for y in self.years], table_rows, "problem_areas"),
                     "Vorher/Nachher-Paare, die sich um mindestens eine Stufe verbessert haben.")

    def _planned_ends(self) -> Chart:
        all_years = sorted({r["year"] for r in self.by_program})
        table_rows, records = [], []
        for code, name in self.programs:
            values = [self.guard(rate(self.program(code, y)["n_planned_ends"],
                                      self.program(code, y)["n_cases_closed"]),
                                 rsup.CLOSED, y, self.program_unit(code)) for y in all_years]
            table_rows.append((f"{name} ({code})", values))
            records += [{"x": str(y), "Angebot": name, "value": v.shown}
                        for y, v in zip(all_years, values, strict=True)]
        return Chart("Planmäßige Beendigungen",
                     trend("Quote planmäßiger Beendigungen je Angebot", records, ".0%",
                           by="Angebot", x_title="Jahr"),
                     Table([str(y) for y in all_years], table_rows, "planned_end_rate",
                           "program"),
                     "Planmäßige Beendigungen (KDS 3.0) je beendetem Fall.")

    def cost_per_outcome(self) -> Section:
        section = Section("Kosten je Wirkung", "Kosten des Jahres geteilt durch erreichte "
                          "Klient:innen, Kontaktstunden, planmäßige Beendigungen und erreichte "
                          "Ziele. Leer, wenn nichts gebucht oder erreicht wurde.")
        rows, records = [], []
        for code, name in self.programs:
            values = [self.guard(per(self.program(code, y)["costs_eur"],
                                     self.program(code, y)["n_planned_ends"]),
                                 rsup.CLOSED, y, self.program_unit(code),
                                 end_reason_category="planned_end") for y in self.years]
            rows.append((f"{name} ({code})", values))
            records += [{"x": name, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        section.charts.append(Chart(
            "Kosten je planmäßiger Beendigung",
            year_bars("Kosten je planmäßiger Beendigung je Angebot (€)", records, ",.0f",
                      self.years),
            Table([str(y) for y in self.years], rows, "cost_per_planned_end", "program")))
        totals, records = [], []
        for label, denominator, factor in (
            ("je erreichter Person", "n_clients_reached", 1),
            ("je Kontaktstunde", "contact_minutes", 60),
            ("je planmäßiger Beendigung", "n_planned_ends", 1),
            ("je erreichtem Ziel", "n_goals_achieved", 1),
        ):
            values = []
            for y in self.years:
                r = self.impact(y)
                value = per(r["costs_eur"], (r[denominator] or 0) / factor)
                # costs shown divided by this give the contact hours: hidden where they are
                if factor != 1:
                    value = self.guard(Value(value.value, None, "euro"), "contact_minutes", y)
                elif denominator == "n_clients_reached":
                    value = self.guard(value, "clients_reached", y)
                elif denominator == "n_planned_ends":
                    value = self.guard(value, rsup.CLOSED, y, end_reason_category="planned_end")
                else:  # goals achieved in all domains: shown where every domain is
                    value = self.guard_sum(value, y)
                values.append(value)
            totals.append((f"Kosten {label}", values))
            records += [{"x": label, "Jahr": str(y), "value": v.shown}
                        for y, v in zip(self.years, values, strict=True)]
        section.charts.append(Chart(
            "Kosten je Wirkung insgesamt",
            year_bars("Kosten je Wirkung (€)", records, ",.0f", self.years),
            Table([str(y) for y in self.years], totals, "cost_per_outcome")))
        return section

    def sections(self) -> list[Section]:
        return [self.resources(), self.outputs(), self.outcomes(), self.cost_per_outcome()]




def render_html(report: Report, manifest: dict[str, Any], date: dt.date) -> str:
    """The report as one self-contained HTML page."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    published = dt.datetime.fromisoformat(manifest["published_at"]).astimezone(LOCAL_TZ)
    return template.render(
        scope=report.scope, year=report.year, last=report.last, sections=report.sections(),
        threshold=settings.SUPPRESSION_THRESHOLD, date=german_date(date),
        published=published.strftime("%d.%m.%Y %H:%M"), generation=manifest["generation"],
        run_id=manifest.get("run_id") or "", programs=report.programs,
        program_links=({code: program_file(code) for code, _ in report.programs}
                       if report.scope.department_code and not report.scope.program_code
                       else {}),
    )


@dataclass(frozen=True)
class ReportResult:
    scope: Scope
    folder: Path
    html: Path
    pdf: Path | None
    year: int


def report_folder(organisation_code: str, department_code: str | None) -> Path:
    """``reports/<org>/<department>`` (``_organisation`` for the whole organisation)."""
    return paths.impact_reports_dir() / organisation_code / (department_code or ORGANISATION)


def program_file(program_code: str) -> str:
    """File name of a program's report in its department's folder: a valid code as it is
    (:func:`warehouse.paths.checked_code`: a safe file name; 'SB.A' and 'SB_A' are two
    programs, two files); anything else made safe, with a digest that keeps it apart."""
    if paths.CODE_PATTERN.fullmatch(program_code):
        return f"wirkungsbericht_angebot_{program_code}.html"
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in program_code)
    digest = hashlib.sha256(program_code.encode()).hexdigest()[:8]
    return f"wirkungsbericht_angebot_{safe}_{digest}.html"


def _program_report(con: duckdb.DuckDBPyConnection, department: Scope, code: str, name: str,
                    manifest: dict[str, Any], day: dt.date, folder: Path,
                    protection: rsup.Protection) -> str:
    scope = Scope(department.organisation_code, department.department_code,
                  f"{name} ({department.name})", program_code=code)
    target = folder / program_file(code)
    target.write_text(render_html(Report(con, scope, protection), manifest, day),
                      encoding="utf-8")
    return target.name


def _write_one(con: duckdb.DuckDBPyConnection, scope: Scope, manifest: dict[str, Any],
               day: dt.date, printer: Printer | None,
               protection: rsup.Protection) -> ReportResult:
    base = report_folder(scope.organisation_code, scope.department_code)
    base.mkdir(parents=True, exist_ok=True)
    for leftover in base.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = base / f".tmp-{day.isoformat()}-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        report = Report(con, scope, protection)
        html = tmp / HTML_NAME
        html.write_text(render_html(report, manifest, day), encoding="utf-8")
        # each program of a department on its own, beside the department's report (HTML);
        # written first, so that the PDF's links to them are made relative (warehouse.pdf)
        programs = [] if scope.department_code is None else [
            _program_report(con, scope, code, name, manifest, day, tmp, protection)
            for code, name in report.programs]
        printed = printer is not None and printer.print(
            html, tmp / PDF_NAME, f"{scope.organisation_code}/{scope.folder}")
        (tmp / "manifest.json").write_text(json.dumps({
            "organisation_code": scope.organisation_code,
            "department_code": scope.department_code, "year": report.year,
            "generation": manifest["generation"], "run_id": manifest.get("run_id"),
            "files": [HTML_NAME, *([PDF_NAME] if printed else []), *programs],
        }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        _swap_in(tmp, base / day.isoformat())
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _point_latest(base, day.isoformat())
    _prune(base, RETENTION)
    folder = base / day.isoformat()
    return ReportResult(scope, folder, folder / HTML_NAME,
                        folder / PDF_NAME if printed else None, report.year)


# The marts a report reads; a publication without them (a partial test set-up) gets none.
SOURCES = ("dim_department", "mart_impact", "mart_outcomes", "mart_outcomes_by_dimension",
           "fct_goals", "mart_finance_by_cost_centre_month")


def scopes(con: duckdb.DuckDBPyConnection) -> list[Scope]:
    """Every department of every organisation, then each organisation as a whole."""
    present = {r[0] for r in con.execute(
        "select table_name from information_schema.tables where table_schema = 'main'"
    ).fetchall()}
    missing = [t for t in SOURCES if t not in present]
    if missing:
        log.warning("no impact reports: the publication has no %s", ", ".join(missing))
        return []
    departments = con.execute(
        "select organisation_code, department_code, department_name from dim_department "
        "order by all").fetchall()
    found = [Scope(org, code, name or code) for org, code, name in departments]
    organisations = sorted({org for org, _, _ in departments})
    return found + [Scope(org, None, f"Träger {org}") for org in organisations]


def write_reports(manifest: dict[str, Any] | None = None, date: dt.date | None = None,
                  pdf: bool = True, only: Sequence[str] | None = None,
                  on_failure: Callable[[str], None] | None = None) -> list[ReportResult]:
    """Write every impact report of ``date`` (default the generation's
    :func:`warehouse.exports.publication_day`, the day its exports have) from the current (or
    given) generation. ``only``: department codes (and ``_organisation``) to write, default all;
    ``on_failure`` hears of each report that could not be made (the others are written)."""
    manifest, source = generation_source(manifest, "impact reports")
    day = date or publication_day(manifest)
    results: list[ReportResult] = []
    failures: list[str] = []
    drawn: set[str] = set()
    token = _DRAWN.set(drawn)
    try:
        # one browser prints every PDF; ended (and its profile removed) however this ends
        with duckdb.connect(str(source), read_only=True) as con, \
                (Printer() if pdf else contextlib.nullcontext()) as printer:
            all_scopes = scopes(con)
            # one suppression for all reports and the open data: what one hides, none reveals
            protection = rsup.protect(con, Path(source)) if all_scopes else None
            for scope in all_scopes:
                if only is not None and scope.folder not in only:
                    continue
                # one report that cannot be made must not cost the others (or the exports)
                try:
                    assert protection is not None
                    results.append(_write_one(con, scope, manifest, day, printer, protection))
                except Exception as exc:  # reported below, with the scope
                    log.exception("impact report for %s failed", scope.folder)
                    failures.append(f"{scope.organisation_code}/{scope.folder}: {exc!r}")
    finally:
        _DRAWN.reset(token)
    if only is None and not failures:  # all reports drawn: the others' charts are stale
        _forget_undrawn(drawn)
    if failures and not results:
        raise ReportError("no impact report could be made: " + "; ".join(failures))
    for failure in failures:
        log.error("impact report not written: %s", failure)
        if on_failure:
            on_failure(f"impact report not written: {failure}")
    return results


class ReportError(RuntimeError):
    """Not one impact report could be made from the publication."""


def latest_report(organisation_code: str, department_code: str | None,
                  date: str) -> str | None:
    """The report of ``date`` relative to ``DATENWERK_HOME``, for a manifest; None if none."""
    html = report_folder(organisation_code, department_code) / date / HTML_NAME
    return str(html.relative_to(paths.home())) if html.is_file() else None
