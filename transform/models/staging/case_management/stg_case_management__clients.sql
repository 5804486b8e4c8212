with

source as (
    {{ latest_by_key(
        'raw_case_management', 'clients', ['organisation_code', delivery_folder(), 'client_id']
    ) }}
),

final as (
    select
        organisation_code,
        department_code,
        {{ scoped_id('client_id') }} as client_id,
        birth_year,
        gender,
        region,
        _dlt_load_id as load_id,
    from source
)

select * from final
