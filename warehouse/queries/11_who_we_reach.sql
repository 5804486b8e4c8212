-- Question: Whom do our departments reach: cases started by age band at start and gender?
-- (Each organisation's departments apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, age_band_at_start, gender, n_cases_started
select
    organisation_code,
    department_code,
    age_band_at_start,
    gender,
    count(*) as n_cases_started,
from fct_cases
group by all
order by organisation_code, department_code, age_band_at_start, gender
