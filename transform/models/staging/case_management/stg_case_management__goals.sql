with

source as (
    {{ latest_by_key('raw_case_management', 'goals', ['organisation_code', 'goal_id']) }}
),

final as (
    select
        organisation_code,
        department_code,
        goal_id,
        case_id,
        domain,
        set_date,
        baseline,
        target,
        final,
        scale,
        coalesce(weight, 1) as weight,
        _dlt_load_id as load_id,
    from source
)

select * from final
