{#- Every program and year the data covers, so that a year without closed cases still shows up
    (with n = 0) instead of silently missing. -#}
with

programs as (
    select * from {{ ref('stg_reference__programs') }}
),

departments as (
    select * from {{ ref('stg_reference__departments') }}
),

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
    select year(end_date) from cases where end_date is not null
    union all
    select year(contact_date) from contacts
    union all
    select year(document_date) from bookings
),

bounds as (
    select min(year) as first_year, max(year) as last_year from years_seen
),

years as (
    select unnest(generate_series(first_year, last_year)) as year
    from bounds
    where first_year is not null
),

final as (
    select
        programs.organisation_code,
        programs.department_code,
        departments.department_name,
        departments.data_steward,
        programs.program_code,
        programs.program_name,
        years.year,
    from programs
    left join departments
        on programs.organisation_code = departments.organisation_code
        and programs.department_code = departments.department_code
    cross join years
)

select * from final
