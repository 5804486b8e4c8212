{#- One row per agreed goal (Ziel) with its levels on the GAS scale -2..+2. -#}
with

goals as (
    select * from {{ ref('stg_case_management__goals') }}
),

-- The case's attributes from its delivery alone: new contacts do not rebuild this model.
cases as (
    {{ staged_case_attributes() }}
),

steps as (
    select * from {{ ref('wirkungstreppe_steps') }}
    where item_kind = 'goal_domain'
),

final as (
    select
        goals.organisation_code,
        goals.goal_id,
        goals.case_id,
        cases.department_code,
        cases.program_code,
        cases.status as case_status,
        cases.end_date as case_end_date,
        cases.end_year,
        goals.domain,
        coalesce(steps.wirkungstreppe_step, 6) as wirkungstreppe_step,
        goals.set_date,
        cast(goals.weight as integer) as weight,
        cast(goals.baseline as integer) as baseline_level,
        cast(goals.target as integer) as expected_level,
        cast(goals.final as integer) as attained_level,
        goals.final is not null as is_rated,
        -- GAS: 0 is the expected level; reaching it or more counts as achieved. Unknown (empty)
        -- while the goal has no attained level.
        goals.final >= 0 as is_achieved,
        cast(goals.final - goals.baseline as integer) as level_change,
    from goals
    inner join cases
        on goals.organisation_code = cases.organisation_code
        and goals.case_id = cases.case_id
    left join steps
        on goals.domain = steps.item
)

select * from final
