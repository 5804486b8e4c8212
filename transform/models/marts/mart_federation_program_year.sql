{#- Closed cases and planned ends per program and year across all organisations of a federation,
    with small-cell suppression: what may be shown beyond the federation office. A cell is hidden
    where fewer than DATENWERK_FEDERATION_MIN_ORGANISATIONS organisations contribute (with two,
    each one subtracts its own figure from the sum and knows the other's), where a count is in
    1 .. threshold-1, and as a complement where a year's total would give a hidden cell away: the
    smallest further cells are hidden until each year hides at least two cells and at least the
    protection margin of cases, planned and other ends, or else the year's total is hidden too.
    tests/integration/test_federation.py proves the result with warehouse.suppression. -#}
{%- set threshold = env_var('DATENWERK_SUPPRESSION_THRESHOLD', '5') | int -%}
{%- set margin = env_var('DATENWERK_PROTECTION_MARGIN', threshold | string) | int -%}
{%- set min_organisations = env_var('DATENWERK_FEDERATION_MIN_ORGANISATIONS', '3') | int -%}
{%- set primary_reason -%}
    case
        when n_organisations < {{ min_organisations }} then 'few_organisations'
        when (n_cases_closed > 0 and n_cases_closed < {{ threshold }})
            or (n_planned_ends > 0 and n_planned_ends < {{ threshold }})
            or (n_other_ends > 0 and n_other_ends < {{ threshold }}) then 'small_count'
    end
{%- endset %}

with

closed as (
    select
        organisation_code,
        program_code,
        end_year as year,
        case when is_planned_end then 1 else 0 end as is_planned
    from {{ ref('fct_cases') }}
    where end_date is not null
),

cells as (
    select
        year,
        program_code,
        count(distinct organisation_code) as n_organisations,
        count(*) as n_cases_closed,
        sum(is_planned) as n_planned_ends,
        count(*) - sum(is_planned) as n_other_ends
    from closed
    group by year, program_code
),

totals as (
    select
        year,
        count(distinct organisation_code) as n_organisations,
        count(*) as n_cases_closed,
        sum(is_planned) as n_planned_ends,
        count(*) - sum(is_planned) as n_other_ends
    from closed
    group by year
),

cells_primary as (
    select
        cells.*,
        {{ primary_reason }} as primary_reason
    from cells
),

totals_primary as (
    select
        totals.*,
        {{ primary_reason }} as primary_reason
    from totals
),

-- Years whose total is shown and that hide cells: the total binds the hidden ones.
hidden_first as (
    select
        cells_primary.year,
        count(*) as n_hidden,
        sum(cells_primary.n_cases_closed) as hidden_cases,
        sum(cells_primary.n_planned_ends) as hidden_planned,
        sum(cells_primary.n_other_ends) as hidden_other
    from cells_primary
    inner join totals_primary
        on cells_primary.year = totals_primary.year
    where cells_primary.primary_reason is not null
        and totals_primary.primary_reason is null
    group by cells_primary.year
),

candidates as (
    select
        year,
        program_code,
        row_number() over (partition by year order by n_cases_closed, program_code) as rank_small,
        sum(n_cases_closed) over (
            partition by year order by n_cases_closed, program_code
            rows between unbounded preceding and current row
        ) as more_cases,
        sum(n_planned_ends) over (
            partition by year order by n_cases_closed, program_code
            rows between unbounded preceding and current row
        ) as more_planned,
        sum(n_other_ends) over (
            partition by year order by n_cases_closed, program_code
            rows between unbounded preceding and current row
        ) as more_other
    from cells_primary
    where primary_reason is null
),

-- How many of the smallest shown cells each year hides as well (-1: no number is enough).
complements as (
    select
        hidden_first.year,
        case
            when hidden_first.n_hidden >= 2
                and hidden_first.hidden_cases >= {{ margin }}
                and hidden_first.hidden_planned >= {{ margin }}
                and hidden_first.hidden_other >= {{ margin }} then 0
            else coalesce(min(case
                    when hidden_first.n_hidden + candidates.rank_small >= 2
                        and hidden_first.hidden_cases + candidates.more_cases >= {{ margin }}
                        and hidden_first.hidden_planned + candidates.more_planned >= {{ margin }}
                        and hidden_first.hidden_other + candidates.more_other >= {{ margin }}
                        then candidates.rank_small
                end), -1)
        end as n_more
    from hidden_first
    left join candidates
        on hidden_first.year = candidates.year
    group by
        hidden_first.year, hidden_first.n_hidden, hidden_first.hidden_cases,
        hidden_first.hidden_planned, hidden_first.hidden_other
),

decided as (
    select
        cells_primary.year,
        cells_primary.program_code,
        cells_primary.n_organisations,
        cells_primary.n_cases_closed,
        cells_primary.n_planned_ends,
        coalesce(
            cells_primary.primary_reason,
            case
                when complements.n_more = -1 or candidates.rank_small <= complements.n_more
                    then 'complementary'
            end
        ) as suppression_reason
    from cells_primary
    left join candidates
        on cells_primary.year = candidates.year
        and cells_primary.program_code = candidates.program_code
    left join complements
        on cells_primary.year = complements.year

    union all

    select
        totals_primary.year,
        'total' as program_code,
        totals_primary.n_organisations,
        totals_primary.n_cases_closed,
        totals_primary.n_planned_ends,
        coalesce(
            totals_primary.primary_reason,
            case when complements.n_more = -1 then 'complementary' end
        ) as suppression_reason
    from totals_primary
    left join complements
        on totals_primary.year = complements.year
)

select
    cast(year as integer) as year,
    cast(program_code as string) as program_code,
    cast(case when suppression_reason is null then n_organisations end as bigint)
        as n_organisations,
    cast(case when suppression_reason is null then n_cases_closed end as bigint)
        as n_cases_closed,
    cast(case when suppression_reason is null then n_planned_ends end as bigint)
        as n_planned_ends,
    case
        when suppression_reason is null then {{ rate('n_planned_ends', 'n_cases_closed') }}
    end as planned_end_rate,
    suppression_reason is not null as is_suppressed,
    cast(suppression_reason as string) as suppression_reason
from decided
