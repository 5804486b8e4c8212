{#- Costs and revenues per organisation, cost centre, category and month (Belegdatum), with the
    department and program of the cost centre. Every profit-and-loss booking is here, also those
    whose account or cost centre maps to nothing (category 'unmapped', empty department/program),
    so the totals reconcile to the bookings (blocking check reconcile_finance_to_bookings). -#}
with

lines as (
    select * from {{ ref('int_bookings_categorised') }}
),

departments as (
    select * from {{ ref('stg_reference__departments') }}
),

programs as (
    select * from {{ ref('stg_reference__programs') }}
),

monthly as (
    select
        organisation_code,
        booking_month as month,
        cost_centre,
        department_code,
        program_code,
        is_cost_centre_mapped,
        category_type,
        category,
        sum(cost_eur) as costs_eur,
        sum(revenue_eur) as revenues_eur,
        sum(amount_eur) as amount_eur,
        count(*) as booking_lines,
    from lines
    group by all
),

final as (
    select
        monthly.organisation_code,
        monthly.month,
        cast(year(monthly.month) as bigint) as year,  -- Spark's year() is an int
        monthly.cost_centre,
        monthly.is_cost_centre_mapped,
        monthly.department_code,
        departments.department_name,
        monthly.program_code,
        programs.program_name,
        monthly.category_type,
        monthly.category,
        cast(monthly.costs_eur as decimal(18, 2)) as costs_eur,
        cast(monthly.revenues_eur as decimal(18, 2)) as revenues_eur,
        cast(monthly.amount_eur as decimal(18, 2)) as amount_eur,
        monthly.booking_lines,
    from monthly
    left join departments
        on monthly.organisation_code = departments.organisation_code
        and monthly.department_code = departments.department_code
    left join programs
        on monthly.organisation_code = programs.organisation_code
        and monthly.program_code = programs.program_code
)

select * from final
