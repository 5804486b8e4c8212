{#- Every calendar year the data covers, from the first to the last year with a case start or
    end, a contact or a booking: the spine of dim_date, the periods and the program years, so
    that a year without events still shows up (with n = 0) instead of silently missing. -#}
with

cases as (
    select * from {{ ref('stg_case_management__cases') }}
),

contacts as (
    select * from {{ ref('stg_case_management__contacts') }}
),

bookings as (
    select * from {{ ref('stg_accounting__bookings') }}
),

years_seen as (
    select year(start_date) as year from cases
    union all
    select year(end_date) from cases
    where end_date is not null
    union all
    select year(contact_date) from contacts
    union all
    select year(document_date) from bookings
),

bounds as (
    select
        min(year) as first_year,
        max(year) as last_year,
    from years_seen
),

final as (
    select cast(year as integer) as year
    from (
        select {{ numbers_between('first_year', 'last_year') }} as year
        from bounds
        where first_year is not null
    ) as years
)

select * from final
