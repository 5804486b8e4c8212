{#- Every department and program the marts report on: the programs of the reference data, every
    department/program pair cases were delivered under (a profile whose rows name their own
    department may deliver a program of another department), and every pair a cost centre books
    to (a cost centre of one department may book to another's program), so that each case and
    each euro is counted in exactly one row, not dropped, also before programs.csv is delivered
    (dim_program shows which are known). A program can thus appear under several departments. -#}
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
        organisation_code,
        department_code,
        program_code
    from cases
    union
    select distinct
        organisation_code,
        department_code,
        program_code,
    from cost_centres
    where program_code is not null
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
