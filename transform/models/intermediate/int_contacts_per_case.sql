{#- Contacts per case: how many, how long, first and second contact (the second decides
    acceptance on step 3 of the Wirkungstreppe), last contact. -#}
with

contacts as (
    select * from {{ ref('stg_case_management__contacts') }}
),

numbered as (
    select
        organisation_code,
        case_id,
        contact_date,
        contact_type,
        duration_minutes,
        row_number() over (
            partition by organisation_code, case_id order by contact_date, contact_id
        ) as contact_no,
    from contacts
),

final as (
    select
        organisation_code,
        case_id,
        count(*) as n_contacts,
        count(*) filter (where contact_type = 'group') as n_group_contacts,
        cast(coalesce(sum(duration_minutes), 0) as bigint) as contact_minutes,
        min(contact_date) as first_contact_date,
        min(contact_date) filter (where contact_no = 2) as second_contact_date,
        max(contact_date) as last_contact_date,
    from numbered
    group by organisation_code, case_id
)

select * from final
