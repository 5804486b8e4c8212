{#- A figure whose inputs were delivered: its value, zero where nothing happened; empty (NULL)
    where the inputs were not delivered at all (an unknown is not a zero). -#}
{% macro known(delivered, column, data_type='bigint') -%}
    cast(case when {{ delivered }} then coalesce({{ column }}, 0) end as {{ data_type }})
{%- endmacro %}
