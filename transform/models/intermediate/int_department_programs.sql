{#- Every department and program the marts report on: the programs of the reference data, and any
    department/program pair cases were delivered under, or a cost centre books to, that the
    reference data does not know (so their cases and money are counted, not dropped, also before
    programs.csv is delivered; dim_program shows which are known). -#}
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

cost_centres as (
    select * from {{ ref('stg_reference__cost_centres') }}
),

pairs as (
    select
        organisation_code,
        department_code,
        program_code
    from programs
    union
    select distinct
        cases.organisation_code,
        cases.department_code,
        cases.program_code
    from cases
    anti join programs
        on cases.organisation_code = programs.organisation_code
        and cases.program_code = programs.program_code
    union
    select distinct
        cost_centres.organisation_code,
        cost_centres.department_code,
        cost_centres.program_code,
    from cost_centres
    anti join programs
        on cost_centres.organisation_code = programs.organisation_code
        and cost_centres.program_code = programs.program_code
    anti join cases
        on cost_centres.organisation_code = cases.organisation_code
        and cost_centres.program_code = cases.program_code
    where cost_centres.program_code is not null
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
