{#- Reporting periods (month, quarter, year) over the calendar years the data covers. -#}
with

years as (
    select * from {{ ref('int_calendar_years') }}
),

month_numbers as (
    select {{ numbers_between(1, 12) }} as month_no
),

quarter_numbers as (
    select {{ numbers_between(1, 4) }} as quarter_no
),

months as (
    select
        'month' as period_type,
        cast(make_date(years.year, month_numbers.month_no, 1) as date) as period_start,
    from years
    cross join month_numbers
),

quarters as (
    select
        'quarter' as period_type,
        cast(make_date(years.year, 3 * quarter_numbers.quarter_no - 2, 1) as date) as period_start,
    from years
    cross join quarter_numbers
),

calendar_years as (
    select
        'year' as period_type,
        cast(make_date(year, 1, 1) as date) as period_start,
    from years
),

periods as (
    select * from months
    union all
    select * from quarters
    union all
    select * from calendar_years
),

final as (
    select
        period_type,
        period_start,
        cast(
            period_start + case period_type
                when 'month' then interval 1 month
                when 'quarter' then interval 3 month
                else interval 1 year
            end - interval 1 day
            as date
        ) as period_end,
        cast(year(period_start) as integer) as year,
    from periods
)

select * from final
