-- Question: What goes into this year's funder report (Social Reporting Standard) for each program: resources, outputs and outcomes, with last year beside it?
-- (Each organisation's programs apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, program_code, program_name, year, costs_eur, grants_eur, n_clients_reached, n_clients_reached_previous_year, n_contacts, n_cases_closed, planned_end_rate, previous_year_planned_end_rate, goal_attainment_rate, cost_per_planned_end_eur
select
    organisation_code,
    department_code,
    program_code,
    program_name,
    year,
    costs_eur,
    grants_eur,
    n_clients_reached,
    n_clients_reached_previous_year,
    n_contacts,
    n_cases_closed,
    round(planned_end_rate, 3) as planned_end_rate,
    round(previous_year_planned_end_rate, 3) as previous_year_planned_end_rate,
    round(goal_attainment_rate, 3) as goal_attainment_rate,
    cost_per_planned_end_eur,
from mart_srs_report
where year = (select max(year) from mart_srs_report where n_cases_closed > 0)
order by organisation_code, department_code, program_name, program_code
