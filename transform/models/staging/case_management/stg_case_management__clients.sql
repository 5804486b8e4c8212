with

source as (
    {{ latest_by_key('raw_case_management', 'clients', ['organisation_code', 'client_id']) }}
),

final as (
    select
        organisation_code,
        department_code,
        client_id,
        birth_year,
        gender,
        region,
        _dlt_load_id as load_id,
    from source
)

select * from final
