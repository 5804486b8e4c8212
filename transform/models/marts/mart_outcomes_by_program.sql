with

program_years as (
    select * from {{ ref('int_program_years') }}
),

cases as (
    select * from {{ ref('fct_cases') }}
),

goals as (
    select * from {{ ref('fct_goal_attainment') }}
),

assessments as (
    select * from {{ ref('fct_assessment_change') }}
),

closed as (
    select
        organisation_code,
        program_code,
        end_year as year,
        count(*) as cases_closed,
        count(*) filter (where is_planned_end) as planned_ends,
        median(duration_days) as median_duration_days,
    from cases
    where status = 'closed'
    group by all
),

goal_rates as (
    select
        organisation_code,
        program_code,
        end_year as year,
        count(*) filter (where is_rated) as goals_rated,
        count(*) filter (where is_rated and is_achieved) as goals_achieved,
    from goals
    where end_year is not null
    group by all
),

change_rates as (
    select
        organisation_code,
        program_code,
        end_year as year,
        count(*) filter (where has_pre_post) as assessed_pairs,
        count(*) filter (where has_pre_post and is_improved) as improved_pairs,
    from assessments
    where end_year is not null
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
        coalesce(closed.cases_closed, 0) as cases_closed,
        coalesce(closed.planned_ends, 0) as planned_ends,
        closed.planned_ends / nullif(closed.cases_closed, 0) as planned_end_rate,
        coalesce(goal_rates.goals_rated, 0) as goals_rated,
        coalesce(goal_rates.goals_achieved, 0) as goals_achieved,
        goal_rates.goals_achieved / nullif(goal_rates.goals_rated, 0) as goal_attainment_rate,
        coalesce(change_rates.assessed_pairs, 0) as assessed_pairs,
        coalesce(change_rates.improved_pairs, 0) as improved_pairs,
        change_rates.improved_pairs / nullif(change_rates.assessed_pairs, 0) as share_improved,
        closed.median_duration_days,
    from program_years
    left join closed using (organisation_code, program_code, year)
    left join goal_rates using (organisation_code, program_code, year)
    left join change_rates using (organisation_code, program_code, year)
)

select * from final
