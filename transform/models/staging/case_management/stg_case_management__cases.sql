with

source as (
    {{ latest_by_key('raw_case_management', 'cases', ['organisation_code', 'case_id']) }}
),

final as (
    select
        organisation_code,
        department_code,
        case_id,
        client_id,
        program_code,
        referral_source,
        start_date,
        end_date,
        end_reason,
        caseworker_id,
        _dlt_load_id as load_id,
    from source
)

select * from final
