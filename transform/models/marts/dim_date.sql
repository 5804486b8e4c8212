{#- One row per calendar day of the years the data covers. -#}
with

years as (
    select * from {{ ref('int_calendar_years') }}
),

bounds as (
    select
        min(year) as first_year,
        max(year) as last_year,
    from years
),

days as (
    select
        {{ days_between('make_date(first_year, 1, 1)', 'make_date(last_year, 12, 31)') }}
            as date_day,
    from bounds
    where first_year is not null
),

final as (
    select
        date_day,
        cast(year(date_day) as integer) as year,
        cast(quarter(date_day) as integer) as quarter,
        cast(month(date_day) as integer) as month,
        cast(date_trunc('month', date_day) as date) as month_start,
        cast(date_trunc('quarter', date_day) as date) as quarter_start,
        cast(date_trunc('year', date_day) as date) as year_start,
        cast({{ iso_day_of_week('date_day') }} as integer) as iso_day_of_week,
        cast(weekofyear(date_day) as integer) as iso_week,
        {{ iso_day_of_week('date_day') }} >= 6 as is_weekend,
    from days
)

select * from final
