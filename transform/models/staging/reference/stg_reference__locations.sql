with

source as (
    {{ latest_snapshot('raw_reference', 'locations') }}
),

final as (
    select
        organisation_code,
        organisation_name,
        department_code,
        location_name,
        description,
        address_1,
        postal_code,
        city,
        state_province,
        coalesce(country, 'DE') as country,
        try_cast(latitude as double) as latitude,
        try_cast(longitude as double) as longitude,
        website,
    from source
)

select * from final
