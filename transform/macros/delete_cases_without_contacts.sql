{#- Post-hook of the incremental int_contacts_per_case: a case whose contacts all moved to other
    cases was counted again with no contacts; a full build has no row for it. Idempotent: a full
    build has no such row. -#}
{% macro delete_cases_without_contacts() -%}
    {{- return(adapter.dispatch('delete_cases_without_contacts')()) -}}
{%- endmacro %}

{#- Spark rebuilds the model in full (see is_incremental): no case is counted without contacts. -#}
{% macro spark__delete_cases_without_contacts() -%}
{%- endmacro %}

{% macro duckdb__delete_cases_without_contacts() -%}
delete from {{ this }} where n_contacts = 0
{%- endmacro %}
