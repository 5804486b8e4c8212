{#- Impact per program and calendar year along the Wirkungstreppe (steps 1-6) and the IOOI chain:
    inputs (costs by category from accounting, staff minutes), outputs (activities, clients
    reached, acceptance), outcomes (planned ends, goals, change in skills, behaviour and life
    situation), and the cost per result. -#}
{#- finance mart category -> column -#}
{%- set cost_columns = {
    'personnel': 'personnel_costs_eur',
    'material': 'material_costs_eur',
    'premises': 'premises_costs_eur',
    'administration': 'administration_costs_eur',
    'depreciation': 'depreciation_costs_eur',
    'other_costs': 'other_costs_eur',
} %}
{%- set revenue_columns = {
    'grants': 'grants_eur',
    'fees': 'fees_eur',
    'donations': 'donations_eur',
    'membership_fees': 'membership_fees_eur',
    'other_revenue': 'other_revenues_eur',
} %}
{%- set steps = {4: 'skills', 5: 'behaviour', 6: 'life_situation'} %}
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

goals as (
    select * from {{ ref('fct_goals') }}
),

assessments as (
    select * from {{ ref('fct_assessment_change') }}
),

outcomes as (
    select * from {{ ref('mart_outcomes') }}
    where period_type = 'year'
),

-- By the cost centre's department and program: a program run by two departments has a row in
-- each, with the money of each department's cost centres.
money as (
    select
        organisation_code,
        department_code,
        program_code,
        year,
        sum(costs_eur) as costs_eur,
        sum(revenues_eur) as revenues_eur,
        {%- for category, column in cost_columns.items() %}
            sum(costs_eur) filter (where category = '{{ category }}') as {{ column }},
        {%- endfor %}
        {%- for category, column in revenue_columns.items() %}
            sum(revenues_eur) filter (where category = '{{ category }}') as {{ column }},
        {%- endfor %}
    from finance
    where program_code is not null
    group by all
),

-- Organisations and years with bookings: a program without any is unknown, not free.
money_delivered as (
    select distinct
        organisation_code,
        year
    from finance
),

contact_rows as (
    select
        cases.organisation_code,
        cases.department_code,
        cases.program_code,
        year(contacts.contact_date) as year,
        count(*) as n_contacts,
        count(*) filter (where contacts.contact_type = 'group') as n_group_contacts,
        sum(contacts.duration_minutes) as contact_minutes,
        sum(contacts.duration_minutes) filter (where contacts.staff_id is not null)
            as staff_minutes,
        count(distinct contacts.staff_id) as n_staff,
        count(distinct cases.client_id) as n_clients_reached,
    from contacts
    inner join cases
        on contacts.organisation_code = cases.organisation_code
        and contacts.case_id = cases.case_id
    group by all
),

-- Case-level totals of exports without contact rows count in the year the case ended (while
-- open: the year it started); they carry no dates of their own.
case_totals as (
    select
        organisation_code,
        department_code,
        program_code,
        coalesce(end_year, start_year) as year,
        sum(n_contacts) as n_contacts,
        sum(contact_minutes) as contact_minutes,
        count(distinct client_id) filter (where n_contacts > 0) as n_clients_reached,
    from cases
    where contacts_source = 'case_total'
    group by all
),

-- Program-years whose contact figures were delivered: the department delivers contact rows,
-- or a case of the program-year has case-level totals.
contacts_delivered as (
    select
        organisation_code,
        department_code,
        program_code,
        year
    from program_years
    where exists (
            select 1 from cases
            where cases.organisation_code = program_years.organisation_code
                and cases.department_code = program_years.department_code
                and cases.contacts_source = 'contact_rows'
        )
    union
    select
        organisation_code,
        department_code,
        program_code,
        year
    from case_totals
),

activity as (
    select
        organisation_code,
        department_code,
        program_code,
        year,
        sum(n_contacts) as n_contacts,
        sum(n_group_contacts) as n_group_contacts,
        sum(contact_minutes) as contact_minutes,
        sum(staff_minutes) as staff_minutes,
        sum(n_staff) as n_staff,
        sum(n_clients_reached) as n_clients_reached,
    from (
        select
            organisation_code,
            department_code,
            program_code,
            year,
            n_contacts,
            n_group_contacts,
            contact_minutes,
            staff_minutes,
            n_staff,
            n_clients_reached,
        from contact_rows
        union all
        -- Case-level totals say nothing about group contacts or staff.
        select
            organisation_code,
            department_code,
            program_code,
            year,
            n_contacts,
            null as n_group_contacts,
            contact_minutes,
            null as staff_minutes,
            null as n_staff,
            n_clients_reached,
        from case_totals
    ) as activity_rows
    group by all
),

acceptance as (
    select
        organisation_code,
        department_code,
        program_code,
        start_year as year,
        count(*) filter (where is_accepted) as n_cases_accepted,
        count(is_accepted) as n_cases_acceptance_known,
    from cases
    group by all
),

goal_steps as (
    select
        organisation_code,
        department_code,
        program_code,
        end_year as year,
        {%- for step, name in steps.items() %}
            count(*) filter (where is_rated and wirkungstreppe_step = {{ step }})
                as n_goals_rated_{{ name }},
            count(*) filter (where is_achieved and wirkungstreppe_step = {{ step }})
                as n_goals_achieved_{{ name }},
        {%- endfor %}
    from goals
    where case_status = 'closed'
    group by all
),

assessment_steps as (
    select
        organisation_code,
        department_code,
        program_code,
        end_year as year,
        {%- for step, name in steps.items() %}
            count(*) filter (where has_pre_post and wirkungstreppe_step = {{ step }})
                as n_assessed_pairs_{{ name }},
            count(*) filter (where is_improved and wirkungstreppe_step = {{ step }})
                as n_improved_pairs_{{ name }},
        {%- endfor %}
    from assessments
    where case_status = 'closed'
    group by all
),

joined as (
    select
        program_years.*,
        money.costs_eur,
        money.revenues_eur,
        {%- for column in cost_columns.values() | list + revenue_columns.values() | list %}
            money.{{ column }},
        {%- endfor %}
        activity.n_contacts,
        activity.n_group_contacts,
        activity.contact_minutes,
        activity.staff_minutes,
        activity.n_staff,
        activity.n_clients_reached,
        acceptance.n_cases_accepted,
        acceptance.n_cases_acceptance_known,
        money_delivered.year is not null as money_delivered,
        contacts_delivered.year is not null as contacts_delivered,
        outcomes.n_cases_started,
        outcomes.n_cases_active,
        outcomes.n_cases_closed,
        outcomes.n_planned_ends,
        outcomes.planned_end_rate,
        outcomes.n_goals_rated,
        outcomes.n_goals_achieved,
        outcomes.goal_attainment_rate,
        outcomes.n_cases_gas,
        outcomes.mean_gas_t_score,
        {%- for name in steps.values() %}
            goal_steps.n_goals_rated_{{ name }},
            goal_steps.n_goals_achieved_{{ name }},
            assessment_steps.n_assessed_pairs_{{ name }},
            assessment_steps.n_improved_pairs_{{ name }},
        {%- endfor %}
    from program_years
    left join money
        on program_years.organisation_code = money.organisation_code
        and program_years.department_code = money.department_code
        and program_years.program_code = money.program_code
        and program_years.year = money.year
    left join activity
        on program_years.organisation_code = activity.organisation_code
        and program_years.department_code = activity.department_code
        and program_years.program_code = activity.program_code
        and program_years.year = activity.year
    left join acceptance
        on program_years.organisation_code = acceptance.organisation_code
        and program_years.department_code = acceptance.department_code
        and program_years.program_code = acceptance.program_code
        and program_years.year = acceptance.year
    left join money_delivered
        on program_years.organisation_code = money_delivered.organisation_code
        and program_years.year = money_delivered.year
    left join contacts_delivered
        on program_years.organisation_code = contacts_delivered.organisation_code
        and program_years.department_code = contacts_delivered.department_code
        and program_years.program_code = contacts_delivered.program_code
        and program_years.year = contacts_delivered.year
    left join outcomes
        on program_years.organisation_code = outcomes.organisation_code
        and program_years.department_code = outcomes.department_code
        and program_years.program_code = outcomes.program_code
        and program_years.year = outcomes.year
    left join goal_steps
        on program_years.organisation_code = goal_steps.organisation_code
        and program_years.department_code = goal_steps.department_code
        and program_years.program_code = goal_steps.program_code
        and program_years.year = goal_steps.year
    left join assessment_steps
        on program_years.organisation_code = assessment_steps.organisation_code
        and program_years.department_code = assessment_steps.department_code
        and program_years.program_code = assessment_steps.program_code
        and program_years.year = assessment_steps.year
),

final as (
    select
        organisation_code,
        department_code,
        department_name,
        program_code,
        program_name,
        year,
        -- Input (IOOI): money from accounting via cost centres; staff time from contacts.
        -- Empty (not zero) where the organisation delivered no bookings for the year, or the
        -- program's contact figures were not delivered.
        {{ known('money_delivered', 'costs_eur', 'decimal(18, 2)') }} as costs_eur,
        {%- for column in cost_columns.values() %}
            {{ known('money_delivered', column, 'decimal(18, 2)') }} as {{ column }},
        {%- endfor %}
        {{ known('money_delivered', 'revenues_eur', 'decimal(18, 2)') }} as revenues_eur,
        {%- for column in revenue_columns.values() %}
            {{ known('money_delivered', column, 'decimal(18, 2)') }} as {{ column }},
        {%- endfor %}
        {{ known('contacts_delivered', 'staff_minutes') }} as staff_minutes,
        {{ known('contacts_delivered', 'n_staff') }} as n_staff,
        -- Step 1: activities take place as planned.
        {{ known('contacts_delivered', 'n_contacts') }} as n_contacts,
        {{ known('contacts_delivered', 'n_group_contacts') }} as n_group_contacts,
        {{ known('contacts_delivered', 'contact_minutes') }} as contact_minutes,
        -- Step 2: target groups are reached.
        {{ known('contacts_delivered', 'n_clients_reached') }} as n_clients_reached,
        cast(coalesce(n_cases_active, 0) as bigint) as n_cases_active,
        -- Step 3: target groups accept the offer (among cases whose acceptance is known).
        cast(coalesce(n_cases_started, 0) as bigint) as n_cases_started,
        cast(case when n_cases_acceptance_known > 0 then n_cases_accepted end as bigint)
            as n_cases_accepted,
        cast(coalesce(n_cases_acceptance_known, 0) as bigint) as n_cases_acceptance_known,
        {{ rate('n_cases_accepted', 'n_cases_acceptance_known') }} as acceptance_rate,
        -- Steps 4-6: skills, behaviour, life situation change (goals and assessments by domain).
        {%- for name in steps.values() %}
            cast(coalesce(n_goals_rated_{{ name }}, 0) as bigint) as n_goals_rated_{{ name }},
            cast(coalesce(n_goals_achieved_{{ name }}, 0) as bigint) as n_goals_achieved_{{ name }},
            {{ rate('n_goals_achieved_' ~ name, 'n_goals_rated_' ~ name) }}
                as {{ name }}_goal_attainment_rate,
            cast(coalesce(n_assessed_pairs_{{ name }}, 0) as bigint) as n_assessed_pairs_{{ name }},
            cast(coalesce(n_improved_pairs_{{ name }}, 0) as bigint) as n_improved_pairs_{{ name }},
            {{ rate('n_improved_pairs_' ~ name, 'n_assessed_pairs_' ~ name) }}
                as share_improved_{{ name }},
        {%- endfor %}
        -- Outcome: cases ended in the year.
        cast(coalesce(n_cases_closed, 0) as bigint) as n_cases_closed,
        cast(coalesce(n_planned_ends, 0) as bigint) as n_planned_ends,
        planned_end_rate,
        cast(coalesce(n_goals_rated, 0) as bigint) as n_goals_rated,
        cast(coalesce(n_goals_achieved, 0) as bigint) as n_goals_achieved,
        goal_attainment_rate,
        cast(coalesce(n_cases_gas, 0) as bigint) as n_cases_gas,
        mean_gas_t_score,
        -- Cost per result: empty when no cost was booked or nothing was reached/achieved.
        cast(nullif(costs_eur, 0) / nullif(n_clients_reached, 0) as decimal(18, 2))
            as cost_per_client_reached_eur,
        cast(nullif(costs_eur, 0) / nullif(contact_minutes / 60, 0) as decimal(18, 2))
            as cost_per_contact_hour_eur,
        cast(nullif(costs_eur, 0) / nullif(n_planned_ends, 0) as decimal(18, 2))
            as cost_per_planned_end_eur,
        cast(nullif(costs_eur, 0) / nullif(n_goals_achieved, 0) as decimal(18, 2))
            as cost_per_goal_achieved_eur,
    from joined
)

select * from final
