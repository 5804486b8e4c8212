{#- Programs (Angebote) and the department they belong to: those of the reference data, and those
    only a cost centre names before programs.csv is delivered (their name is empty), so every
    program the marts report on is here (see int_department_programs). -#}
with

department_programs as (
    select * from {{ ref('int_department_programs') }}
),

ranked as (
    select
        organisation_code,
        program_code,
        program_name,
        department_code,
        department_name,
        row_number() over (
            partition by organisation_code, program_code
            order by program_name is null, department_code
        ) as program_rank,
    from department_programs
    where program_code is not null
),

final as (
    select
        organisation_code,
        program_code,
        program_name,
        department_code,
        department_name,
    from ranked
    where program_rank = 1
)

select * from final
