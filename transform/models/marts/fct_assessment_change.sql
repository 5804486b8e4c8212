{#- One row per case and dimension (problem area): intake and exit score (the first intake and
    the last exit), the change, and the KDS-style result at case end (derived from the scores, or
    as the export states it where it has no scores). -#}
with

assessments as (
    select * from {{ ref('stg_case_management__assessments') }}
),

-- The case's attributes from its delivery alone: new contacts do not rebuild this model.
cases as (
    {{ staged_case_attributes() }}
),

steps as (
    select * from {{ ref('wirkungstreppe_steps') }}
    where item_kind = 'dimension'
),

scored as (
    select
        organisation_code,
        case_id,
        dimension,
        min_by(score, assessment_date) filter (where phase = 'intake') as intake_score,
        max_by(score, assessment_date) filter (where phase = 'exit') as exit_score,
        min(scale_min) as scale_min,
        max(scale_max) as scale_max,
        cast(null as string) as result_at_end,
    from assessments
    group by organisation_code, case_id, dimension
),

-- End-only results of exports without assessment rows (KDS case lists: "Problematik am
-- Betreuungsende"), where the case has no scores in that problem area.
results_at_end as (
    select
        organisation_code,
        case_id,
        problem_area as dimension,
        cast(null as double) as intake_score,
        cast(null as double) as exit_score,
        cast(null as double) as scale_min,
        cast(null as double) as scale_max,
        problem_area_result as result_at_end,
    from {{ ref('stg_case_management__cases') }}
    where problem_area_result is not null and problem_area is not null
),

-- Both have the same columns in the same order.
per_dimension as (
    select * from scored
    union all
    select * from results_at_end
    where not exists (
            select 1 from scored
            where scored.organisation_code = results_at_end.organisation_code
                and scored.case_id = results_at_end.case_id
                and scored.dimension = results_at_end.dimension
        )
),

final as (
    select
        per_dimension.organisation_code,
        per_dimension.case_id,
        per_dimension.dimension,
        cases.department_code,
        cases.program_code,
        cases.status as case_status,
        cases.end_date as case_end_date,
        cases.end_year,
        coalesce(steps.wirkungstreppe_step, 6) as wirkungstreppe_step,
        {{ round_2('per_dimension.intake_score') }} as intake_score,
        {{ round_2('per_dimension.exit_score') }} as exit_score,
        {{ round_2('per_dimension.exit_score - per_dimension.intake_score') }} as score_change,
        per_dimension.intake_score is not null and per_dimension.exit_score is not null
            as has_pre_post,
        -- Improved: at least one scale step better (higher) at exit than at intake.
        per_dimension.exit_score - per_dimension.intake_score >= 1 as is_improved,
        -- KDS 3.0 problem-area result at case end (Problembereich bei Betreuungsende): new when
        -- the area was not assessed at intake; empty while the case has no exit score.
        case
            when per_dimension.result_at_end is not null then per_dimension.result_at_end
            when per_dimension.exit_score is null then null
            when per_dimension.intake_score is null then 'new'
            when per_dimension.exit_score - per_dimension.intake_score >= 1 then 'improved'
            when per_dimension.exit_score - per_dimension.intake_score <= -1 then 'worse'
            else 'unchanged'
        end as problem_area_result,
        {{ round_2('per_dimension.scale_min') }} as scale_min,
        {{ round_2('per_dimension.scale_max') }} as scale_max,
    from per_dimension
    inner join cases
        on per_dimension.organisation_code = cases.organisation_code
        and per_dimension.case_id = cases.case_id
    left join steps
        on per_dimension.dimension = steps.item
)

select * from final
