with

source as (
    {{ latest_snapshot('raw_reference', 'departments') }}
),

final as (
    select
        organisation_code,
        department_code,
        department_name,
        data_steward,
        coalesce(is_pilot, false) as is_pilot,
    from source
)

select * from final
