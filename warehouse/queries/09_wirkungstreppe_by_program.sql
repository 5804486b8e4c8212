-- Question: How far up the Wirkungstreppe does each program get this year: reached, accepted, and changed skills, behaviour and life situation?
-- (Each organisation's programs apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, program_code, year, n_contacts, n_clients_reached, acceptance_rate, skills_goal_attainment_rate, behaviour_goal_attainment_rate, life_situation_goal_attainment_rate, share_improved_life_situation
select
    organisation_code,
    department_code,
    program_code,
    year,
    n_contacts,
    n_clients_reached,
    round(acceptance_rate, 3) as acceptance_rate,
    round(skills_goal_attainment_rate, 3) as skills_goal_attainment_rate,
    round(behaviour_goal_attainment_rate, 3) as behaviour_goal_attainment_rate,
    round(life_situation_goal_attainment_rate, 3) as life_situation_goal_attainment_rate,
    round(share_improved_life_situation, 3) as share_improved_life_situation,
from mart_impact
where year = (select max(year) from mart_impact where n_cases_closed > 0)
order by organisation_code, department_code, program_code
