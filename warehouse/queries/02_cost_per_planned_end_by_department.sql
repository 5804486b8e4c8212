-- Question: What does a planned end cost in each department, year by year?
-- (Costs of all the department's programs / planned ends of their cases ended in the year. Each
-- organisation's departments apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, department_name, year, costs_eur, n_planned_ends, cost_per_planned_end_eur
select
    organisation_code,
    department_code,
    department_name,
    year,
    sum(costs_eur) as costs_eur,
    sum(n_planned_ends) as n_planned_ends,
    round(sum(costs_eur) / nullif(sum(n_planned_ends), 0), 2) as cost_per_planned_end_eur,
from mart_impact
group by all
order by organisation_code, department_code, year
