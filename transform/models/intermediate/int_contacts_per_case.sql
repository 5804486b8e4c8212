with

contacts as (
    select * from {{ ref('stg_case_management__contacts') }}
),

final as (
    select
        organisation_code,
        case_id,
        count(*) as contacts,
        coalesce(sum(duration_minutes), 0) as contact_minutes,
        min(contact_date) as first_contact_date,
        max(contact_date) as last_contact_date,
    from contacts
    group by organisation_code, case_id
)

select * from final
