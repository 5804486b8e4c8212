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

-- Departments that deliver contact rows: a case of theirs without a contact row had none.
contact_deliveries as (
    select distinct
        organisation_code,
        department_code
    from {{ ref('stg_case_management__contacts') }}
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
        -- Where the contact figures come from: contact rows, the export's case-level totals,
        -- or nowhere (empty figures, not zero).
        case
            when contacts.case_id is not null then 'contact_rows'
            when cases.contacts_total is not null then 'case_total'
            when contact_deliveries.department_code is not null then 'contact_rows'
        end as contacts_source,
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
    left join contact_deliveries
        on cases.organisation_code = contact_deliveries.organisation_code
        and cases.department_code = contact_deliveries.department_code
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
        {{ case_status('end_date') }} as status,
        cast({{ days_from_to('start_date', 'end_date') }} as integer) as duration_days,
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
        contacts_source,
        cast(case contacts_source
            when 'contact_rows' then coalesce(n_contacts, 0)
            when 'case_total' then contacts_total
        end as bigint) as n_contacts,
        cast(
            case when contacts_source = 'contact_rows' then coalesce(n_group_contacts, 0) end
            as bigint
        ) as n_group_contacts,
        cast(case contacts_source
            when 'contact_rows' then coalesce(contact_minutes, 0)
            when 'case_total' then contact_minutes_total
        end as bigint) as contact_minutes,
        first_contact_date,
        last_contact_date,
        -- Acceptance (Wirkungstreppe step 3): a second contact took place, and no dropout
        -- ended the case before it; from a case total: at least two contacts. An open case (no
        -- end reason, no end date) was not ended by a dropout.
        case contacts_source
            when 'contact_rows'
                then second_contact_date is not null
                    and not coalesce(
                        end_reason = 'dropout' and end_date < second_contact_date, false
                    )
            when 'case_total' then contacts_total >= 2
        end as is_accepted,
        cast(coalesce(n_goals, 0) as bigint) as n_goals,
        cast(coalesce(n_goals_rated, 0) as bigint) as n_goals_rated,
        cast(coalesce(n_goals_achieved, 0) as bigint) as n_goals_achieved,
        {{ round_2('gas_t_score') }} as gas_t_score,
    from joined
)

select * from final
