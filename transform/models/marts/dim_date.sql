{#- One row per calendar day of the years the data covers. -#}
with

years as (
    select * from {{ ref('int_calendar_years') }}
),

days as (
    select
        cast(unnest(generate_series(
            make_date(min(year), 1, 1), make_date(max(year), 12, 31), interval 1 day
        )) as date) as date_day,
    from years
    having count(*) > 0
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
        cast(isodow(date_day) as integer) as iso_day_of_week,
        cast(weekofyear(date_day) as integer) as iso_week,
        isodow(date_day) >= 6 as is_weekend,
    from days
)

select * from final
