{#- A case's status from its end date: the one definition for fct_cases and the facts that carry
    the status of their case (they read the staged cases, not fct_cases, so that a delivery of
    contacts leaves goals and assessments as they are). -#}
{% macro case_status(end_date) -%}
    case when {{ end_date }} is null then 'open' else 'closed' end
{%- endmacro %}

{#- The attributes a fact carries of its case, from the staged cases (one row per case, as in
    fct_cases): a delivery of contacts leaves the facts that read them as they are. -#}
{% macro staged_case_attributes() -%}
    select
        organisation_code,
        case_id,
        department_code,
        program_code,
        end_date,
        {{ case_status('end_date') }} as status,
        cast(year(end_date) as integer) as end_year,
    from {{ ref('stg_case_management__cases') }}
{%- endmacro %}
