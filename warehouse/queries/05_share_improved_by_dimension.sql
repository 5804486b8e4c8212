-- Question: In which problem areas do clients improve between intake and exit (and how many got worse)?
-- (Each organisation's departments apart: two organisations of one installation may use one code.)
-- columns: organisation_code, department_code, dimension, year, n_assessed_pairs, share_improved, n_results_worse, n_results_new
select
    organisation_code,
    department_code,
    dimension,
    year,
    sum(n_assessed_pairs) as n_assessed_pairs,
    round(sum(n_improved_pairs) / nullif(sum(n_assessed_pairs), 0), 3) as share_improved,
    sum(n_results_worse) as n_results_worse,
    sum(n_results_new) as n_results_new,
from mart_outcomes_by_dimension
where period_type = 'year'
group by all
order by organisation_code, department_code, dimension, year
