{#- Programs (Angebote) and the department they belong to. -#}
with

programs as (
    select * from {{ ref('stg_reference__programs') }}
),

departments as (
    select * from {{ ref('stg_reference__departments') }}
),

final as (
    select
        programs.organisation_code,
        programs.program_code,
        programs.program_name,
        programs.department_code,
        departments.department_name,
    from programs
    left join departments
        on programs.organisation_code = departments.organisation_code
        and programs.department_code = departments.department_code
)

select * from final
