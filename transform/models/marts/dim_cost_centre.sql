{#- Cost centres (Kostenstellen) and the department and program they stand for. -#}
with

cost_centres as (
    select * from {{ ref('stg_reference__cost_centres') }}
),

final as (
    select
        organisation_code,
        cost_centre,
        kost_field,
        department_code,
        program_code,
    from cost_centres
)

select * from final
