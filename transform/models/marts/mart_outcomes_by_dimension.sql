{#- Change per problem area (dimension) per department, program and period of case end: the share
    improved and the KDS 3.0 problem-area results. One row where a case that ended in the period
    has an exit score in the dimension. -#}
with

assessments as (
    select * from {{ ref('fct_assessment_change') }}
),

periods as (
    select * from {{ ref('int_periods') }}
),

figures as (
    select
        assessments.organisation_code,
        assessments.department_code,
        assessments.program_code,
        periods.period_type,
        periods.period_start,
        periods.period_end,
        periods.year,
        assessments.dimension,
        min(assessments.wirkungstreppe_step) as wirkungstreppe_step,
        count(*) filter (where assessments.has_pre_post) as n_assessed_pairs,
        count(*) filter (where assessments.is_improved) as n_improved_pairs,
        {{ mean_2('assessments.score_change') }} as mean_score_change,
        count(*) filter (where assessments.problem_area_result = 'improved') as n_results_improved,
        count(*) filter (where assessments.problem_area_result = 'unchanged')
            as n_results_unchanged,
        count(*) filter (where assessments.problem_area_result = 'worse') as n_results_worse,
        count(*) filter (where assessments.problem_area_result = 'new') as n_results_new,
    from assessments
    inner join periods
        on assessments.case_end_date between periods.period_start and periods.period_end
    where assessments.problem_area_result is not null
    group by all
),

final as (
    select
        organisation_code,
        department_code,
        program_code,
        period_type,
        period_start,
        period_end,
        year,
        dimension,
        wirkungstreppe_step,
        n_assessed_pairs,
        n_improved_pairs,
        {{ rate('n_improved_pairs', 'n_assessed_pairs') }} as share_improved,
        mean_score_change,
        n_results_improved,
        n_results_unchanged,
        n_results_worse,
        n_results_new,
    from figures
)

select * from final
