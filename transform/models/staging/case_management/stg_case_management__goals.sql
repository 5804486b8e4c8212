with

source as (
    {{ latest_by_key(
        'raw_case_management', 'goals', ['organisation_code', delivery_folder(), 'goal_id']
    ) }}
),

final as (
    select
        organisation_code,
        department_code,
        {{ scoped_id('goal_id') }} as goal_id,
        {{ scoped_id('case_id') }} as case_id,
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
