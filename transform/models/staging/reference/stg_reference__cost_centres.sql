with

source as (
    {{ latest_snapshot('raw_reference', 'cost_centres') }}
),

final as (
    select
        organisation_code,
        cost_centre,
        department_code,
        program_code,
        upper(coalesce(kost_field, 'KOST1')) as kost_field,
    from source
)

select * from final
