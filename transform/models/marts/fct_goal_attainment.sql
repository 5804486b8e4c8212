with

goals as (
    select * from {{ ref('stg_case_management__goals') }}
),

cases as (
    select * from {{ ref('fct_cases') }}
),

final as (
    select
        goals.organisation_code,
        goals.goal_id,
        goals.case_id,
        cases.department_code,
        cases.program_code,
        cases.end_year,
        goals.domain,
        goals.weight,
        goals.baseline,
        goals.target,
        goals.final,
        goals.final is not null as is_rated,
        -- GAS: 0 is the expected level; reaching it or more counts as achieved.
        goals.final >= 0 as is_achieved,
        goals.final - goals.baseline as change,
    from goals
    inner join cases
        on goals.organisation_code = cases.organisation_code
        and goals.case_id = cases.case_id
)

select * from final
