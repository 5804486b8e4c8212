-- Question: What does each program cost per client reached and per contact hour, in the latest year?
-- (Each organisation's programs apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, program_code, program_name, year, costs_eur, n_clients_reached, cost_per_client_reached_eur, contact_hours, cost_per_contact_hour_eur
select
    organisation_code,
    department_code,
    program_code,
    program_name,
    year,
    costs_eur,
    n_clients_reached,
    cost_per_client_reached_eur,
    round(contact_minutes / 60, 1) as contact_hours,
    cost_per_contact_hour_eur,
from mart_impact
where year = (select max(year) from mart_impact where n_contacts > 0)
order by
    cost_per_client_reached_eur desc nulls last,
    organisation_code,
    department_code,
    program_code
