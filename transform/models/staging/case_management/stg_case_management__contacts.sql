with

source as (
    {{ latest_by_key('raw_case_management', 'contacts', ['organisation_code', 'contact_id']) }}
),

final as (
    select
        organisation_code,
        department_code,
        contact_id,
        case_id,
        contact_date,
        contact_type,
        duration_minutes,
        staff_id,
        _dlt_load_id as load_id,
    from source
)

select * from final
