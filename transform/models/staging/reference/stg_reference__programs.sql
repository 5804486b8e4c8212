with

source as (
    {{ latest_snapshot('raw_reference', 'programs') }}
),

final as (
    select
        organisation_code,
        program_code,
        department_code,
        program_name,
    from source
)

select * from final
