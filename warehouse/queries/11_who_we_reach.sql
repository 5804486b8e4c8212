-- Question: Whom do our departments reach: cases started by age band at start and gender?
-- columns: department_code, age_band_at_start, gender, n_cases_started
select
    department_code,
    age_band_at_start,
    gender,
    count(*) as n_cases_started,
from fct_cases
group by all
order by department_code, age_band_at_start, gender
