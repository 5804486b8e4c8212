-- Question: Where do our clients live: how many clients and new cases per postcode region and year?
-- columns: region, start_year, n_clients, n_cases_started
select
    coalesce(region, 'unknown') as region,
    start_year,
    count(distinct client_id) as n_clients,
    count(*) as n_cases_started,
from fct_cases
group by all
order by start_year, n_clients desc, region
