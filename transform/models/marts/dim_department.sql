{#- Departments (Fachbereiche) with their data steward and pilot flag: those of the reference data,
    and those only a cost centre names before departments.csv is delivered (name, steward and
    pilot flag empty), so every department the marts report on is here. -#}
with

departments as (
    select * from {{ ref('stg_reference__departments') }}
),

department_programs as (
    select * from {{ ref('int_department_programs') }}
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

named_elsewhere as (
    select distinct
        department_programs.organisation_code,
        department_programs.department_code,
    from department_programs
    anti join departments
        on department_programs.organisation_code = departments.organisation_code
        and department_programs.department_code = departments.department_code
    where department_programs.department_code is not null
),

all_departments as (
    select
        organisation_code,
        department_code,
        department_name,
        data_steward,
        is_pilot,
    from departments
    union all
    select
        organisation_code,
        department_code,
        cast(null as string) as department_name,
        cast(null as string) as data_steward,
        cast(null as boolean) as is_pilot,
    from named_elsewhere
),

final as (
    select
        all_departments.organisation_code,
        all_departments.department_code,
        all_departments.department_name,
        all_departments.data_steward,
        all_departments.is_pilot,
        coalesce(program_counts.n_programs, 0) as n_programs,
    from all_departments
    left join program_counts
        on all_departments.organisation_code = program_counts.organisation_code
        and all_departments.department_code = program_counts.department_code
)

select * from final
