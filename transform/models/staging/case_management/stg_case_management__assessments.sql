with

source as (
    {{ latest_by_key(
        'raw_case_management', 'assessments',
        ['organisation_code', delivery_folder(), 'assessment_id'],
    ) }}
),

final as (
    select
        organisation_code,
        department_code,
        {{ scoped_id('assessment_id') }} as assessment_id,
        {{ scoped_id('case_id') }} as case_id,
        instrument,
        dimension,
        phase,
        assessment_date,
        score,
        scale_min,
        scale_max,
        _dlt_load_id as load_id,
    from source
)

select * from final
