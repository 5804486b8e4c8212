"""A small synthetic installation for the publish and export tests: a real build.duckdb with a
``marts`` schema of two departments, no pipeline run (seconds instead of minutes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import use_home

SYNTHETIC_MARTS = ("fct_cases", "mart_finance_by_cost_centre_month", "mart_deliveries")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """The dbt project's manifest, parsed if its sources changed: what each mart's YAML says
    (suites, department exports) is read from it."""
    from orchestration.transform import DBT_PROJECT, prepare_manifest

    prepare_manifest()
    return Path(DBT_PROJECT.manifest_path)


def write_build(home: Path, cases_per_department: int = 30, version: int = 1) -> None:
    """marts.fct_cases (dates, booleans, nulls), the finance mart (decimals, negative amounts,
    rows without department) and mart_deliveries (no department_code)."""
    build = home / "warehouse" / "build.duckdb"
    build.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(build)) as con:
        con.execute("create schema if not exists marts")
        con.execute(f"""
            create or replace table marts.fct_cases as
            select
                'swm' as organisation_code,
                dept || '-' || lpad(i::varchar, 4, '0') as case_id,
                dept as department_code,
                dept || '-P' as program_code,
                date '2024-01-01' + (i * 3)::int as start_date,
                case when i % 4 = 0 then null else date '2024-06-01' + i::int end as end_date,
                i % 2 = 0 as is_planned_end,
                (i * 1.25 + {version})::double as mean_minutes,
                case when i % 5 = 0 then null else i end as contacts,
                -- what the open data counts (a rollback makes it again from a generation)
                'zz' as end_reason_category,  -- no German label: the export shows it as is
                '04' || (i % 3)::varchar as region,
            from (values ('SB'), ('SUB')) as d(dept), range(1, {cases_per_department} + 1) as r(i)
        """)
        con.execute("""
            create or replace table marts.mart_finance_by_cost_centre_month as
            select
                'swm' as organisation_code,
                (date '2024-01-01' + to_months(m::int))::date as month,
                cc as cost_centre,
                dept as department_code,
                (m * 1234.56 - 99.99)::decimal(18, 2) as costs_eur,
                (-m * 10.5)::decimal(18, 2) as net_eur,
            from (values ('1100', 'SB'), ('2100', 'SUB'), ('9999', null)) as c(cc, dept),
                range(0, 12) as r(m)
        """)
        con.execute("""
            create or replace table marts.mart_deliveries as
            select 'kontakte.csv' as file_name, 10 as rows_read
        """)


@pytest.fixture
def synthetic_home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    use_home(home)
    write_build(home)
    ref = home / "inbox" / "reference" / "swm"
    ref.mkdir(parents=True)
    (ref / "departments.csv").write_text(
        "organisation_code,department_code,department_name,department_name_en,data_steward,"
        "is_pilot\nswm,SB,Schuldnerberatung,Debt counselling,K,true\n"
        "swm,SUB,Suchtberatung,Addiction counselling,T,true\n", encoding="utf-8")
    yield home
