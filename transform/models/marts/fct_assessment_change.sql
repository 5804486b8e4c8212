{#- One row per case and dimension: intake and exit score (the first intake and the last exit). -#}
with

assessments as (
    select * from {{ ref('stg_case_management__assessments') }}
),

cases as (
    select * from {{ ref('fct_cases') }}
),

per_dimension as (
    select
        organisation_code,
        case_id,
        dimension,
        arg_min(score, assessment_date) filter (where phase = 'intake') as intake_score,
        arg_max(score, assessment_date) filter (where phase = 'exit') as exit_score,
        max(scale_max) - min(scale_min) as scale_range,
    from assessments
    group by organisation_code, case_id, dimension
),

final as (
    select
        per_dimension.organisation_code,
        per_dimension.case_id,
        per_dimension.dimension,
        cases.department_code,
        cases.program_code,
        cases.end_year,
        per_dimension.intake_score,
        per_dimension.exit_score,
        per_dimension.exit_score - per_dimension.intake_score as change,
        per_dimension.intake_score is not null and per_dimension.exit_score is not null
            as has_pre_post,
        -- Improved: at least one scale step better at exit than at intake.
        per_dimension.exit_score - per_dimension.intake_score >= 1 as is_improved,
    from per_dimension
    inner join cases
        on per_dimension.organisation_code = cases.organisation_code
        and per_dimension.case_id = cases.case_id
)

select * from final
