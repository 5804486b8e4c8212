{#- Every department program and calendar year the data covers: the spine of the yearly marts. -#}
with

programs as (
    select * from {{ ref('int_department_programs') }}
),

years as (
    select * from {{ ref('int_calendar_years') }}
),

final as (
    select
        programs.organisation_code,
        programs.department_code,
        programs.department_name,
        programs.program_code,
        programs.program_name,
        years.year,
    from programs
    cross join years
)

select * from final
