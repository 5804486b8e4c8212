{#- One row per program and year with the figures a Social Reporting Standard (SRS) report asks
    for in its section on resources, outputs and outcomes (Ressourcen, Leistungen, Wirkungen),
    with last year's key figures beside this year's (the SRS asks for the comparison). -#}
with

impact as (
    select * from {{ ref('mart_impact') }}
),

outcomes as (
    select * from {{ ref('mart_outcomes') }}
    where period_type = 'year'
),

final as (
    select
        impact.organisation_code,
        impact.department_code,
        impact.department_name,
        impact.program_code,
        impact.program_name,
        impact.year,
        outcomes.period_start as reporting_period_start,
        outcomes.period_end as reporting_period_end,
        -- Resources (Input, Ressourcen)
        impact.costs_eur,
        impact.personnel_costs_eur,
        cast(impact.costs_eur - impact.personnel_costs_eur as decimal(18, 2))
            as non_personnel_costs_eur,
        impact.revenues_eur,
        impact.grants_eur,
        impact.fees_eur,
        impact.donations_eur,
        cast(impact.membership_fees_eur + impact.other_revenues_eur as decimal(18, 2))
            as other_revenues_eur,
        impact.staff_minutes,
        impact.n_staff,
        -- Outputs (Leistungen)
        impact.n_contacts,
        impact.n_group_contacts,
        impact.contact_minutes,
        impact.n_clients_reached,
        impact.n_cases_started,
        impact.n_cases_active,
        impact.n_cases_accepted,
        impact.n_cases_acceptance_known,
        impact.acceptance_rate,
        -- Outcomes (Wirkungen)
        impact.n_cases_closed,
        impact.n_planned_ends,
        impact.planned_end_rate,
        impact.n_goals_rated,
        impact.n_goals_achieved,
        impact.goal_attainment_rate,
        impact.n_cases_gas,
        impact.mean_gas_t_score,
        outcomes.n_assessed_pairs,
        outcomes.n_improved_pairs,
        outcomes.share_improved,
        impact.cost_per_client_reached_eur,
        impact.cost_per_planned_end_eur,
        impact.cost_per_goal_achieved_eur,
        -- Comparison with the previous year (Vorjahresvergleich)
        cast(lag(impact.n_clients_reached) over w as bigint) as n_clients_reached_previous_year,
        cast(lag(impact.n_cases_closed) over w as bigint) as n_cases_closed_previous_year,
        cast(lag(impact.planned_end_rate) over w as double) as previous_year_planned_end_rate,
    from impact
    left join outcomes
        on impact.organisation_code = outcomes.organisation_code
        and impact.department_code = outcomes.department_code
        and impact.program_code = outcomes.program_code
        and impact.year = outcomes.year
    window w as (
        partition by impact.organisation_code, impact.department_code, impact.program_code
        order by impact.year
    )
)

select * from final
