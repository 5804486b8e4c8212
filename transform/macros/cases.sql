{#- A case's status from its end date: the one definition for fct_cases and the facts that carry
    the status of their case (they read the staged cases, not fct_cases, so that a delivery of
    contacts leaves goals and assessments as they are). -#}
{% macro case_status(end_date) -%}
    case when {{ end_date }} is null then 'open' else 'closed' end
{%- endmacro %}
