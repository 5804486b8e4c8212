{#- Outcomes (Wirkungen) per department, program and period (month, quarter, year). Cases count in
    the periods they started, were active and ended in; every outcome rate is over the cases
    that ended in the period, and carries its n. -#}
with

programs as (
    select * from {{ ref('int_department_programs') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

cases as (
    select * from {{ ref('fct_cases') }}
),

assessments as (
    select * from {{ ref('fct_assessment_change') }}
),

-- The case's unrounded T-score: a mean of scores rounded to 2 decimals can miss the exact
-- mean by 0.01 (30 and 62.048 -> 46.03, not 46.02).
gas as (
    select * from {{ ref('int_case_gas_scores') }}
),

spine as (
    select
        programs.*,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.year,
    from programs
    cross join periods
),

case_periods as (
    select
        periods.period_type,
        periods.period_start,
        cases.organisation_code,
        cases.department_code,
        cases.program_code,
        cases.is_planned_end,
        cases.duration_days,
        cases.n_goals_rated,
        cases.n_goals_achieved,
        gas.gas_t_score,
        cases.start_date >= periods.period_start as is_started,
        coalesce(cases.end_date <= periods.period_end, false) as is_closed,
    from cases
    left join gas
        on cases.organisation_code = gas.organisation_code
        and cases.case_id = gas.case_id
    inner join periods
        on cases.start_date <= periods.period_end
        and (cases.end_date is null or cases.end_date >= periods.period_start)
),

case_figures as (
    select
        organisation_code,
        department_code,
        program_code,
        period_type,
        period_start,
        count(*) filter (where is_started) as n_cases_started,
        count(*) as n_cases_active,
        count(*) filter (where is_closed) as n_cases_closed,
        count(*) filter (where is_closed and is_planned_end) as n_planned_ends,
        sum(n_goals_rated) filter (where is_closed) as n_goals_rated,
        sum(n_goals_achieved) filter (where is_closed) as n_goals_achieved,
        count(gas_t_score) filter (where is_closed) as n_cases_gas,
        {{ mean_2('gas_t_score', where='is_closed') }} as mean_gas_t_score,
        median(duration_days) filter (where is_closed) as median_duration_days,
    from case_periods
    group by all
),

assessment_figures as (
    select
        assessments.organisation_code,
        assessments.department_code,
        assessments.program_code,
        periods.period_type,
        periods.period_start,
        count(*) filter (where assessments.has_pre_post) as n_assessed_pairs,
        count(*) filter (where assessments.is_improved) as n_improved_pairs,
    from assessments
    inner join periods
        on assessments.case_end_date between periods.period_start and periods.period_end
    group by all
),

final as (
    select
        spine.organisation_code,
        spine.department_code,
        spine.department_name,
        spine.program_code,
        spine.program_name,
        spine.period_type,
        spine.period_start,
        spine.period_end,
        spine.year,
        cast(coalesce(case_figures.n_cases_started, 0) as bigint) as n_cases_started,
        cast(coalesce(case_figures.n_cases_active, 0) as bigint) as n_cases_active,
        cast(coalesce(case_figures.n_cases_closed, 0) as bigint) as n_cases_closed,
        cast(coalesce(case_figures.n_planned_ends, 0) as bigint) as n_planned_ends,
        {{ rate('case_figures.n_planned_ends', 'case_figures.n_cases_closed') }}
            as planned_end_rate,
        cast(coalesce(case_figures.n_goals_rated, 0) as bigint) as n_goals_rated,
        cast(coalesce(case_figures.n_goals_achieved, 0) as bigint) as n_goals_achieved,
        {{ rate('case_figures.n_goals_achieved', 'case_figures.n_goals_rated') }}
            as goal_attainment_rate,
        cast(coalesce(case_figures.n_cases_gas, 0) as bigint) as n_cases_gas,
        cast(case_figures.mean_gas_t_score as double) as mean_gas_t_score,
        cast(coalesce(assessment_figures.n_assessed_pairs, 0) as bigint) as n_assessed_pairs,
        cast(coalesce(assessment_figures.n_improved_pairs, 0) as bigint) as n_improved_pairs,
        {{ rate('assessment_figures.n_improved_pairs', 'assessment_figures.n_assessed_pairs') }}
            as share_improved,
        {{ round_2('case_figures.median_duration_days') }} as median_duration_days,
    from spine
    left join case_figures
        on spine.organisation_code = case_figures.organisation_code
        and spine.department_code = case_figures.department_code
        and spine.program_code = case_figures.program_code
        and spine.period_type = case_figures.period_type
        and spine.period_start = case_figures.period_start
    left join assessment_figures
        on spine.organisation_code = assessment_figures.organisation_code
        and spine.department_code = assessment_figures.department_code
        and spine.program_code = assessment_figures.program_code
        and spine.period_type = assessment_figures.period_type
        and spine.period_start = assessment_figures.period_start
)

select * from final
