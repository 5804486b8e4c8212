{#- One row per case (Fall): who, where, when, how it ended, how much contact, GAS T-score. -#}
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

gas as (
    select * from {{ ref('int_case_gas_scores') }}
),

joined as (
    select
        cases.*,
        clients.gender,
        clients.region,
        year(cases.start_date) - clients.birth_year as age_at_start,
        contacts.n_contacts,
        contacts.n_group_contacts,
        contacts.contact_minutes,
        contacts.first_contact_date,
        contacts.second_contact_date,
        contacts.last_contact_date,
        gas.n_goals,
        gas.n_goals_rated,
        gas.n_goals_achieved,
        gas.gas_t_score,
    from cases
    left join clients
        on cases.organisation_code = clients.organisation_code
        and cases.client_id = clients.client_id
    left join contacts
        on cases.organisation_code = contacts.organisation_code
        and cases.case_id = contacts.case_id
    left join gas
        on cases.organisation_code = gas.organisation_code
        and cases.case_id = gas.case_id
),

final as (
    select
        organisation_code,
        case_id,
        department_code,
        program_code,
        client_id,
        caseworker_id,
        referral_source,
        start_date,
        end_date,
        cast(year(start_date) as integer) as start_year,
        cast(year(end_date) as integer) as end_year,
        case when end_date is null then 'open' else 'closed' end as status,
        cast(date_diff('day', start_date, end_date) as integer) as duration_days,
        end_reason,
        -- KDS 3.0 "Art der Beendigung", grouped: a planned end (planmäßige Beendigung) is a
        -- regular end, an early end on professional advice or by agreement, or a planned
        -- transfer; the data standard's 'planned' holds the first three, 'referral' the last.
        case
            when end_date is null then null
            when end_reason in ('planned', 'referral') then 'planned_end'
            when end_reason = 'dropout' then 'dropout'
            else 'other_end'
        end as end_reason_category,
        coalesce(end_date is not null and end_reason in ('planned', 'referral'), false)
            as is_planned_end,
        {{ age_band('age_at_start') }} as age_band_at_start,
        coalesce(gender, 'unknown') as gender,
        region,
        cast(coalesce(n_contacts, 0) as bigint) as n_contacts,
        cast(coalesce(n_group_contacts, 0) as bigint) as n_group_contacts,
        cast(coalesce(contact_minutes, 0) as bigint) as contact_minutes,
        first_contact_date,
        last_contact_date,
        -- Acceptance (Wirkungstreppe step 3): a second contact took place, and no dropout
        -- ended the case before it.
        coalesce(
            second_contact_date is not null
            and not (end_reason = 'dropout' and end_date < second_contact_date),
            false
        ) as is_accepted,
        cast(coalesce(n_goals, 0) as bigint) as n_goals,
        cast(coalesce(n_goals_rated, 0) as bigint) as n_goals_rated,
        cast(coalesce(n_goals_achieved, 0) as bigint) as n_goals_achieved,
        gas_t_score,
    from joined
)

select * from final
