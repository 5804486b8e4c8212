"""Accounting checks on the build database: reconciliation to the cent, and unmapped bookings.

- :func:`reconcile_bookings_to_files` (blocking): per loaded DATEV file, the lines and the signed
  and absolute sums that reached the warehouse equal the file's control totals (taken from its
  text before any line was validated) minus its quarantined lines; per file, the bookings in
  force in staging are exactly its lines on the days no later file of the same Mandant covers;
  and no Mandant has bookings of two files on one day.
- :func:`reconcile_finance_to_bookings` (blocking): per organisation and month, the finance
  mart's costs, revenues, net amount and booking sides equal those computed straight from the
  bookings in force and the account categories; the impact mart's costs and revenues per program
  and year equal the finance mart's.
- :func:`unmapped_bookings` (warning): profit-and-loss bookings whose account or cost centre maps
  to nothing, with their amounts (they are kept in the marts as 'unmapped', never dropped).

Each function takes a DuckDB connection (read-only is enough) and returns a :class:`CheckResult`
whose metadata holds plain values, so Dagster (or anything else) can show them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb

from warehouse import holds
from warehouse.checks import CheckResult
from warehouse.db import table_exists

# Shown in check metadata: enough to find the problem, small enough for the UI.
MAX_ROWS_SHOWN = 50


def _records(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    relation = con.sql(sql)
    names = relation.columns
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def _money(value: Any) -> Decimal:
    return Decimal(value if value is not None else 0).quantize(Decimal("0.01"))


FILES_SQL = """
with

completed as (
    select load_id from raw_accounting._dlt_loads
    where status = 0 and load_id not in ({held_load_ids})
),

headers as (
    select * from staging.stg_accounting__file_headers where is_buchungsstapel
),

raw as (
    select * from raw_accounting.bookings where _dlt_load_id in (select load_id from completed)
),

loaded as (
    select
        source_sha256,
        count(*) as lines,
        sum(amount_eur) as amount_eur,
        sum(abs(amount_eur)) as absolute_eur,
    from raw
    group by source_sha256
),

-- A booking stays in force unless a later file of the same Mandant covers its date. Written
-- with NOT EXISTS here, independently of staging's day-by-day ranking.
expected_in_force as (
    select
        raw.source_sha256,
        count(*) as lines,
        sum(raw.amount_eur) as amount_eur,
    from raw
    inner join headers as own
        on raw.source_sha256 = own.source_sha256
    where not exists (
        select 1
        from headers as later
        where later.organisation_code = own.organisation_code
            and later.consultant_number = own.consultant_number
            and later.client_number = own.client_number
            and later.source_sha256 != own.source_sha256
            and raw.document_date between later.period_from and later.period_to
            and (
                later.load_id > own.load_id
                or later.load_id = own.load_id and (
                    coalesce(later.created_at, timestamp '0001-01-01')
                        > coalesce(own.created_at, timestamp '0001-01-01')
                    or coalesce(later.created_at, timestamp '0001-01-01')
                        = coalesce(own.created_at, timestamp '0001-01-01')
                    and later.source_file > own.source_file
                )
            )
    )
    group by raw.source_sha256
),

in_force as (
    select
        source_sha256,
        count(*) as lines,
        sum(amount_eur) as amount_eur,
    from staging.stg_accounting__bookings
    group by source_sha256
)

select
    headers.organisation_code,
    headers.source_file,
    headers.consultant_number,
    headers.client_number,
    headers.period_from,
    headers.period_to,
    headers.control_lines,
    headers.quarantined_lines,
    headers.control_amount_eur,
    headers.quarantined_amount_eur,
    headers.control_absolute_eur,
    headers.quarantined_absolute_eur,
    coalesce(loaded.lines, 0) as loaded_lines,
    coalesce(loaded.amount_eur, 0) as loaded_amount_eur,
    coalesce(loaded.absolute_eur, 0) as loaded_absolute_eur,
    coalesce(expected_in_force.lines, 0) as expected_in_force_lines,
    coalesce(expected_in_force.amount_eur, 0) as expected_in_force_amount_eur,
    coalesce(in_force.lines, 0) as in_force_lines,
    coalesce(in_force.amount_eur, 0) as in_force_amount_eur,
from headers
left join loaded on headers.source_sha256 = loaded.source_sha256
left join expected_in_force on headers.source_sha256 = expected_in_force.source_sha256
left join in_force on headers.source_sha256 = in_force.source_sha256
order by headers.organisation_code, headers.client_number, headers.period_from,
    headers.source_file
"""

OVERLAP_SQL = """
select
    organisation_code,
    consultant_number,
    client_number,
    document_date,
    count(distinct source_sha256) as files,
from staging.stg_accounting__bookings
group by all
having count(distinct source_sha256) > 1
order by all
"""


HELD_SQL = """
select distinct source_file from raw_accounting.file_headers
where source_sha256 in ({held_files})
order by source_file
"""


def reconcile_bookings_to_files(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Every loaded DATEV file reconciles to the cent with what reached the warehouse."""
    if not table_exists(con, "raw_accounting", "bookings"):
        return CheckResult(
            passed=True, description="no DATEV bookings loaded yet: nothing to reconcile")
    files = _records(con, FILES_SQL.format(held_load_ids=holds.held_load_ids_sql()))
    failures: list[dict[str, Any]] = []
    for f in files:
        expected = {
            "lines": f["control_lines"] - f["quarantined_lines"],
            "amount_eur": _money(f["control_amount_eur"]) - _money(f["quarantined_amount_eur"]),
            "absolute_eur": _money(f["control_absolute_eur"])
            - _money(f["quarantined_absolute_eur"]),
        }
        loaded = {
            "lines": f["loaded_lines"],
            "amount_eur": _money(f["loaded_amount_eur"]),
            "absolute_eur": _money(f["loaded_absolute_eur"]),
        }
        if loaded != expected:
            failures.append({"file": f["source_file"], "problem": "loaded differs from file",
                             "file_minus_quarantine": expected, "warehouse": loaded})
        in_force = (f["in_force_lines"], _money(f["in_force_amount_eur"]))
        wanted = (f["expected_in_force_lines"], _money(f["expected_in_force_amount_eur"]))
        if in_force != wanted:
            failures.append({"file": f["source_file"], "problem": "bookings in force differ",
                             "expected": wanted, "staging": in_force})
    overlaps = _records(con, OVERLAP_SQL)
    for o in overlaps[:MAX_ROWS_SHOWN]:
        failures.append({"problem": "two files in force on one day", **o})
    shown = [
        {
            "file": f["source_file"],
            "mandant": f["client_number"],
            "period": f"{f['period_from']:%d.%m.%Y}-{f['period_to']:%d.%m.%Y}",
            "lines": f["control_lines"],
            "quarantined": f["quarantined_lines"],
            "file_eur": _money(f["control_amount_eur"]),
            "quarantined_eur": _money(f["quarantined_amount_eur"]),
            "warehouse_eur": _money(f["loaded_amount_eur"]),
            "in_force_eur": _money(f["in_force_amount_eur"]),
        }
        for f in files[:MAX_ROWS_SHOWN]
    ]
    quarantined = sum((_money(f["quarantined_amount_eur"]) for f in files), Decimal("0.00"))
    # Loaded but held (a re-delivery much smaller than what it replaces): not in force, named.
    held = [r["source_file"] for r in _records(
        con, HELD_SQL.format(held_files=holds.held_files_sql()))]
    passed = not failures
    description = (
        f"{len(files)} DATEV file(s) reconcile to the cent with the warehouse"
        if passed else f"{len(failures)} reconciliation failure(s): {failures[0]}"
    ) + (f"; {len(held)} re-delivery(ies) held for a steward's confirmation "
         "(`datenwerk held`)" if held else "")
    return CheckResult(
        passed=passed,
        description=description,
        metadata={
            "files": len(files),
            "held_redeliveries": held,
            "failures": failures[:MAX_ROWS_SHOWN],
            "quarantined_lines": sum(f["quarantined_lines"] for f in files),
            "quarantined_amount_eur": quarantined,
        },
        tables={"files": shown},
    )


FINANCE_SQL = """
with

bookings as (
    select * from staging.stg_accounting__bookings
),

accounts as (
    select * from intermediate.int_accounts_categorised
),

-- Straight from the bookings: the account side gets +amount, the contra side -amount; no
-- unpivot, no cost-centre join (those are what the mart adds and what this check guards).
direct as (
    select
        bookings.organisation_code,
        date_trunc('month', bookings.document_date)::date as month,
        bookings.amount_eur,
        account.category_type as account_type,
        contra.category_type as contra_type,
        bookings.contra_account is not null as has_contra,
    from bookings
    left join accounts as account
        on bookings.organisation_code = account.organisation_code
        and bookings.chart_of_accounts is not distinct from account.header_chart
        and bookings.account_length = account.account_length
        and bookings.account = account.account
    left join accounts as contra
        on bookings.organisation_code = contra.organisation_code
        and bookings.chart_of_accounts is not distinct from contra.header_chart
        and bookings.account_length = contra.account_length
        and bookings.contra_account = contra.account
),

expected as (
    select
        organisation_code,
        month,
        sum(case when account_type = 'cost' then amount_eur else 0 end)
            - sum(case when contra_type = 'cost' then amount_eur else 0 end) as costs_eur,
        sum(case when contra_type = 'revenue' then amount_eur else 0 end)
            - sum(case when account_type = 'revenue' then amount_eur else 0 end) as revenues_eur,
        sum(case when account_type != 'balance' then amount_eur else 0 end)
            - sum(case when contra_type != 'balance' then amount_eur else 0 end) as amount_eur,
        count(*) filter (where account_type != 'balance')
            + count(*) filter (where contra_type != 'balance') as booking_lines,
        count(*) filter (where account_type is null or has_contra and contra_type is null)
            as unclassified,
    from direct
    group by all
),

mart as (
    select
        organisation_code,
        month,
        sum(costs_eur) as costs_eur,
        sum(revenues_eur) as revenues_eur,
        sum(amount_eur) as amount_eur,
        sum(booking_lines) as booking_lines,
    from marts.mart_finance_by_cost_centre_month
    group by all
)

select
    coalesce(expected.organisation_code, mart.organisation_code) as organisation_code,
    coalesce(expected.month, mart.month) as month,
    coalesce(expected.costs_eur, 0) as expected_costs_eur,
    coalesce(mart.costs_eur, 0) as mart_costs_eur,
    coalesce(expected.revenues_eur, 0) as expected_revenues_eur,
    coalesce(mart.revenues_eur, 0) as mart_revenues_eur,
    coalesce(expected.amount_eur, 0) as expected_amount_eur,
    coalesce(mart.amount_eur, 0) as mart_amount_eur,
    coalesce(expected.booking_lines, 0) as expected_booking_lines,
    coalesce(mart.booking_lines, 0) as mart_booking_lines,
    coalesce(expected.unclassified, 0) as unclassified,
from expected
full outer join mart
    on expected.organisation_code = mart.organisation_code
    and expected.month = mart.month
order by 1, 2
"""

IMPACT_SQL = """
with

finance as (
    select
        organisation_code,
        program_code,
        year,
        sum(costs_eur) as costs_eur,
        sum(revenues_eur) as revenues_eur,
    from marts.mart_finance_by_cost_centre_month
    where program_code is not null
    group by all
),

impact as (
    select
        organisation_code,
        program_code,
        year,
        sum(costs_eur) as costs_eur,
        sum(revenues_eur) as revenues_eur,
    from marts.mart_impact
    group by all
)

select
    coalesce(finance.organisation_code, impact.organisation_code) as organisation_code,
    coalesce(finance.program_code, impact.program_code) as program_code,
    coalesce(finance.year, impact.year) as year,
    coalesce(finance.costs_eur, 0) as finance_costs_eur,
    coalesce(impact.costs_eur, 0) as impact_costs_eur,
    coalesce(finance.revenues_eur, 0) as finance_revenues_eur,
    coalesce(impact.revenues_eur, 0) as impact_revenues_eur,
from finance
full outer join impact
    on finance.organisation_code = impact.organisation_code
    and finance.program_code = impact.program_code
    and finance.year = impact.year
where coalesce(finance.costs_eur, 0) != coalesce(impact.costs_eur, 0)
    or coalesce(finance.revenues_eur, 0) != coalesce(impact.revenues_eur, 0)
order by 1, 2, 3
"""


def reconcile_finance_to_bookings(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """The finance mart (and the impact mart's money) reconcile to the bookings to the cent."""
    if not table_exists(con, "marts", "mart_finance_by_cost_centre_month"):
        return CheckResult(
            passed=False, description="marts.mart_finance_by_cost_centre_month does not exist")
    months = _records(con, FINANCE_SQL)
    failures: list[dict[str, Any]] = []
    for m in months:
        pairs = {
            what: (_money(m[f"expected_{what}"]), _money(m[f"mart_{what}"]))
            for what in ("costs_eur", "revenues_eur", "amount_eur")
        }
        pairs["booking_lines"] = (m["expected_booking_lines"], m["mart_booking_lines"])
        wrong = {k: {"bookings": v[0], "mart": v[1]} for k, v in pairs.items() if v[0] != v[1]}
        if wrong or m["unclassified"]:
            failures.append({"organisation_code": m["organisation_code"],
                             "month": f"{m['month']:%Y-%m}", **wrong,
                             "unclassified_accounts": m["unclassified"]})
    impact: list[dict[str, Any]] = []
    if table_exists(con, "marts", "mart_impact"):
        impact = _records(con, IMPACT_SQL)
        failures.extend({"problem": "impact mart differs from finance mart", **r} for r in impact)
    total = {
        what: sum((_money(m[f"mart_{what}"]) for m in months), Decimal("0.00"))
        for what in ("costs_eur", "revenues_eur", "amount_eur")
    }
    passed = not failures
    description = (
        f"finance mart reconciles to the bookings in {len(months)} organisation-month(s): "
        f"costs {total['costs_eur']} EUR, revenues {total['revenues_eur']} EUR"
        if passed else f"{len(failures)} month(s) do not reconcile: {failures[0]}"
    )
    return CheckResult(
        passed=passed,
        description=description,
        metadata={
            "organisation_months": len(months),
            "impact_mart_compared": (
                "mart_impact" if table_exists(con, "marts", "mart_impact") else "(none yet)"
            ),
            "total_costs_eur": total["costs_eur"],
            "total_revenues_eur": total["revenues_eur"],
            "total_amount_eur": total["amount_eur"],
            "failures": failures[:MAX_ROWS_SHOWN],
        },
    )


UNMAPPED_SQL = """
with

lines as (
    select * from intermediate.int_bookings_categorised
),

unmapped as (
    select
        organisation_code,
        'account' as unmapped,
        account as code,
        account_label as label,
        amount_eur,
    from lines
    where category_type = 'unmapped'
    union all
    select
        organisation_code,
        'cost_centre' as unmapped,
        cost_centre as code,
        null as label,
        amount_eur,
    from lines
    where category_type != 'unmapped' and not is_cost_centre_mapped
)

select
    organisation_code,
    unmapped,
    code,
    any_value(label) as label,
    count(*) as booking_lines,
    sum(amount_eur) as amount_eur,
    sum(abs(amount_eur)) as absolute_eur,
from unmapped
group by organisation_code, unmapped, code
order by absolute_eur desc, organisation_code, unmapped, code
"""


def unmapped_bookings(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Profit-and-loss bookings whose account or cost centre maps to nothing, with amounts."""
    if not table_exists(con, "intermediate", "int_bookings_categorised"):
        return CheckResult(
            passed=False, description="intermediate.int_bookings_categorised does not exist")
    rows = _records(con, UNMAPPED_SQL)
    by_org: dict[str, dict[str, Any]] = {}
    for r in rows:
        org = by_org.setdefault(r["organisation_code"], {
            "accounts_absolute_eur": Decimal("0.00"), "cost_centres_absolute_eur": Decimal("0.00"),
            "accounts": 0, "cost_centres": 0,
        })
        kind = "accounts" if r["unmapped"] == "account" else "cost_centres"
        org[f"{kind}_absolute_eur"] += _money(r["absolute_eur"])
        org[kind] += 1
    items = [
        {**r, "amount_eur": _money(r["amount_eur"]), "absolute_eur": _money(r["absolute_eur"])}
        for r in rows[:MAX_ROWS_SHOWN]
    ]
    passed = not rows
    description = (
        "every profit-and-loss booking maps to a category and a cost centre"
        if passed else
        "unmapped bookings (kept as 'unmapped' in the marts): " + "; ".join(
            f"{org}: {v['accounts']} account(s) {v['accounts_absolute_eur']} EUR, "
            f"{v['cost_centres']} cost centre(s) {v['cost_centres_absolute_eur']} EUR"
            for org, v in sorted(by_org.items())
        ) + "; largest: " + ", ".join(
            f"{r['organisation_code']} {r['unmapped'].replace('_', ' ')} {r['code']} "
            f"{_money(r['amount_eur'])} EUR in {r['booking_lines']} line(s)" for r in rows[:3]
        ) + ". Nothing is blocked; map them in the organisation's reference accounts.csv / "
        "cost_centres.csv."
    )
    return CheckResult(passed=passed, description=description, metadata={"by_organisation": by_org},
                        tables={"unmapped": items})
