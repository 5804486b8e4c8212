{#- Every department and program the marts report on: the programs of the reference data, and any
    department/program pair cases were delivered under that the reference data does not know
    (so their cases are counted, not dropped; dim_program shows which are known). -#}
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

pairs as (
    select organisation_code, department_code, program_code from programs
    union
    select distinct cases.organisation_code, cases.department_code, cases.program_code
    from cases
    anti join programs
        on cases.organisation_code = programs.organisation_code
        and cases.program_code = programs.program_code
),

final as (
    select
        pairs.organisation_code,
        pairs.department_code,
        departments.department_name,
        pairs.program_code,
        programs.program_name,
    from pairs
    left join programs
        on pairs.organisation_code = programs.organisation_code
        and pairs.program_code = programs.program_code
    left join departments
        on pairs.organisation_code = departments.organisation_code
        and pairs.department_code = departments.department_code
)

select * from final
