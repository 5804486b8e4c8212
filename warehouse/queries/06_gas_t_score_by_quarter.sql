-- Question: Is goal attainment (mean GAS T-score, 50 = as expected) rising or falling quarter by quarter?
-- (Each organisation's programs apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, program_code, period_start, n_cases_gas, mean_gas_t_score
select
    organisation_code,
    department_code,
    program_code,
    period_start,
    n_cases_gas,
    round(mean_gas_t_score, 1) as mean_gas_t_score,
from mart_outcomes
where period_type = 'quarter'
    and n_cases_gas > 0
order by organisation_code, department_code, program_code, period_start
