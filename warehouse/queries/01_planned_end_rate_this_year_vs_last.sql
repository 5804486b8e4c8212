-- Question: How does each program's planned-end rate this year compare with last year?
-- ("This year" is the latest year with closed cases in the data. Each organisation's programs
-- apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, program_code, program_name, year, n_cases_closed, planned_end_rate, previous_year_n_cases_closed, previous_year_planned_end_rate, change_in_points
with

years as (
    select
        organisation_code,
        department_code,
        program_code,
        program_name,
        year,
        n_cases_closed,
        planned_end_rate,
    from mart_outcomes
    where period_type = 'year'
),

this_year as (
    select max(year) as year from years where n_cases_closed > 0
)

select
    current_year.organisation_code,
    current_year.department_code,
    current_year.program_code,
    current_year.program_name,
    current_year.year,
    current_year.n_cases_closed,
    round(current_year.planned_end_rate, 3) as planned_end_rate,
    last_year.n_cases_closed as previous_year_n_cases_closed,
    round(last_year.planned_end_rate, 3) as previous_year_planned_end_rate,
    round(100 * (current_year.planned_end_rate - last_year.planned_end_rate), 1)
        as change_in_points,
from years as current_year
inner join this_year
    on current_year.year = this_year.year
left join years as last_year
    on current_year.organisation_code = last_year.organisation_code
    and current_year.department_code = last_year.department_code
    and current_year.program_code = last_year.program_code
    and last_year.year = current_year.year - 1
order by current_year.organisation_code, current_year.department_code, current_year.program_code
