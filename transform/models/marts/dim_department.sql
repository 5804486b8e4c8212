{#- Departments (Fachbereiche) with their data steward and pilot flag. -#}
with

departments as (
    select * from {{ ref('stg_reference__departments') }}
),

programs as (
    select * from {{ ref('stg_reference__programs') }}
),

program_counts as (
    select
        organisation_code,
        department_code,
        count(*) as n_programs,
    from programs
    group by all
),

final as (
    select
        departments.organisation_code,
        departments.department_code,
        departments.department_name,
        departments.data_steward,
        departments.is_pilot,
        coalesce(program_counts.n_programs, 0) as n_programs,
    from departments
    left join program_counts
        on departments.organisation_code = program_counts.organisation_code
        and departments.department_code = program_counts.department_code
)

select * from final
