-- Question: Does the way clients come to us (referral source) go with more dropouts or planned ends?
-- columns: referral_source, n_cases_closed, planned_end_rate, dropout_rate
select
    coalesce(referral_source, 'unknown') as referral_source,
    count(*) as n_cases_closed,
    round(avg(is_planned_end::integer), 3) as planned_end_rate,
    round(avg((end_reason_category = 'dropout')::integer), 3) as dropout_rate,
from fct_cases
where status = 'closed'
group by all
order by n_cases_closed desc
