with

cases as (
    select * from {{ ref('stg_case_management__cases') }}
),

clients as (
    select * from {{ ref('stg_case_management__clients') }}
),

contacts as (
    select * from {{ ref('int_contacts_per_case') }}
),

final as (
    select
        cases.organisation_code,
        cases.case_id,
        cases.department_code,
        cases.program_code,
        cases.client_id,
        cases.caseworker_id,
        cases.referral_source,
        cases.start_date,
        cases.end_date,
        case when cases.end_date is null then 'open' else 'closed' end as status,
        year(cases.end_date) as end_year,
        date_diff('day', cases.start_date, cases.end_date) as duration_days,
        cases.end_reason,
        -- KDS 3.0 counts regular ends, early ends on advice or by agreement, and planned
        -- transfers as planned ends; the standard's 'planned' and 'referral' hold exactly these.
        coalesce(cases.end_reason in ('planned', 'referral'), false) as is_planned_end,
        coalesce(contacts.contacts, 0) as contacts,
        coalesce(contacts.contact_minutes, 0) as contact_minutes,
        contacts.first_contact_date,
        contacts.last_contact_date,
        clients.gender,
        clients.birth_year,
        year(cases.start_date) - clients.birth_year as age_at_start,
        clients.region,
    from cases
    left join clients
        on cases.organisation_code = clients.organisation_code
        and cases.client_id = clients.client_id
    left join contacts
        on cases.organisation_code = contacts.organisation_code
        and cases.case_id = contacts.case_id
)

select * from final
