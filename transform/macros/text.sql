{#- `text` without its leading zeros ('0042' -> '42'). Spark's two-argument ltrim takes the
    characters first, DuckDB's second, so each engine gets its own spelling. -#}
{% macro without_leading_zeros(text) -%}
    {{- return(adapter.dispatch('without_leading_zeros')(text)) -}}
{%- endmacro %}

{% macro duckdb__without_leading_zeros(text) -%}
    ltrim({{ text }}, '0')
{%- endmacro %}

{% macro spark__without_leading_zeros(text) -%}
    trim(leading '0' from {{ text }})
{%- endmacro %}
