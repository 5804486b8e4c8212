with

program_years as (
    select * from {{ ref('int_program_years') }}
),

finance as (
    select * from {{ ref('mart_finance_by_cost_centre_month') }}
),

contacts as (
    select * from {{ ref('stg_case_management__contacts') }}
),

cases as (
    select * from {{ ref('fct_cases') }}
),

outcomes as (
    select * from {{ ref('mart_outcomes_by_program') }}
),

money as (
    select
        organisation_code,
        program_code,
        year,
        sum(costs_eur) as costs_eur,
        sum(revenues_eur) as revenues_eur,
    from finance
    where program_code is not null
    group by all
),

activity as (
    select
        contacts.organisation_code,
        cases.program_code,
        year(contacts.contact_date) as year,
        count(*) as contacts,
        coalesce(sum(contacts.duration_minutes), 0) as contact_minutes,
        count(distinct cases.client_id) as clients_reached,
    from contacts
    inner join cases
        on contacts.organisation_code = cases.organisation_code
        and contacts.case_id = cases.case_id
    group by all
),

final as (
    select
        program_years.organisation_code,
        program_years.department_code,
        program_years.department_name,
        program_years.program_code,
        program_years.program_name,
        program_years.year,
        cast(coalesce(money.costs_eur, 0) as decimal(18, 2)) as costs_eur,
        cast(coalesce(money.revenues_eur, 0) as decimal(18, 2)) as revenues_eur,
        coalesce(activity.contacts, 0) as contacts,
        coalesce(activity.contact_minutes, 0) as contact_minutes,
        coalesce(activity.clients_reached, 0) as clients_reached,
        outcomes.cases_closed,
        outcomes.planned_ends,
        outcomes.goals_achieved,
        cast(money.costs_eur / nullif(activity.clients_reached, 0) as decimal(18, 2))
            as cost_per_client_eur,
        cast(money.costs_eur / nullif(outcomes.planned_ends, 0) as decimal(18, 2))
            as cost_per_planned_end_eur,
        cast(money.costs_eur / nullif(outcomes.goals_achieved, 0) as decimal(18, 2))
            as cost_per_goal_achieved_eur,
    from program_years
    left join money using (organisation_code, program_code, year)
    left join activity using (organisation_code, program_code, year)
    left join outcomes using (organisation_code, program_code, year)
)

select * from final
