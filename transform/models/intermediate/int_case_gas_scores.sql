{#- Goal attainment scaling (GAS) per case: the T-score over the case's rated goals,
    T = 50 + 10 * sum(w * x) / sqrt((1 - rho) * sum(w^2) + rho * (sum w)^2), rho = 0.3
    (Kiresuk & Sherman; rho is the assumed correlation between goal scores). x is the attained
    level on the GAS scale -2..+2 (0 = expected level), w the goal's weight. A case without a
    rated goal has no T-score. -#}
{%- set rho = 0.3 %}
with

goals as (
    select * from {{ ref('stg_case_management__goals') }}
),

sums as (
    select
        organisation_code,
        case_id,
        count(*) as n_goals,
        count(final) as n_goals_rated,
        count(*) filter (where final >= 0) as n_goals_achieved,
        sum(weight) filter (where final is not null) as sum_weights,
        sum(weight * weight) filter (where final is not null) as sum_squared_weights,
        sum(weight * final) filter (where final is not null) as sum_weighted_levels,
    from goals
    group by organisation_code, case_id
),

final as (
    select
        organisation_code,
        case_id,
        n_goals,
        n_goals_rated,
        n_goals_achieved,
        cast(
            50 + 10 * sum_weighted_levels / nullif(sqrt(
                (1 - {{ rho }}) * sum_squared_weights + {{ rho }} * sum_weights * sum_weights
            ), 0)
            as double
        ) as gas_t_score,
    from sums
)

select * from final
