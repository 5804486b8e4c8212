{#- Declared precision of published figures: a rate (share of 0..1) to 4 decimals, a mean or a
    score to 2. Means sum exact decimals, not doubles: a double sum depends on the order parallel
    threads add in, and the published figure would change between runs with the same data. -#}
{% macro rate(numerator, denominator) -%}
    round(cast({{ numerator }} as double) / nullif({{ denominator }}, 0), 4)
{%- endmacro %}

{#- The mean is rounded half up from 12 decimals, not from a double: DuckDB's avg of decimals
    is a double (48.235 is 48.23499..), Spark's an exact decimal, and both must publish 48.24. -#}
{% macro mean_2(expression, where=none) -%}
    cast(round(cast(avg(cast({{ expression }} as decimal(18, 6)))
        {%- if where %} filter (where {{ where }}){% endif %} as decimal(38, 12)), 2) as double)
{%- endmacro %}

{% macro round_2(expression) -%}
    cast(round({{ expression }}, 2) as double)
{%- endmacro %}
