-- Question: In which life domains do clients reach their goals, and how often?
-- (Rated goals of closed cases, by domain and year of case end.)
-- columns: domain, end_year, n_goals_rated, n_goals_achieved, goal_attainment_rate, mean_level_change
select
    domain,
    end_year,
    count(*) filter (where is_rated) as n_goals_rated,
    count(*) filter (where is_achieved) as n_goals_achieved,
    round(count(*) filter (where is_achieved) / nullif(count(*) filter (where is_rated), 0), 3)
        as goal_attainment_rate,
    round(avg(level_change), 2) as mean_level_change,
from fct_goals
where case_status = 'closed'
group by all
having count(*) filter (where is_rated) > 0
order by domain, end_year
