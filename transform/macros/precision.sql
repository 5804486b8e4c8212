{#- Declared precision of published figures: a rate (share of 0..1) to 4 decimals, a mean or a
    score to 2. Means sum exact decimals, not doubles: a double sum depends on the order parallel
    threads add in, and the published figure would change between runs with the same data.

    Every figure is rounded half up from an exact decimal of 12 places (`half_up`), never from a
    double: DuckDB rounds a double's binary value (3/800 = 0.0037499.. -> 0.0037), Spark the
    decimal it prints (0.0038), and DuckDB's avg of decimals is a double, Spark's exact. Both
    engines publish the same figure, the correctly rounded one. -#}
{% macro half_up(expression, decimals) -%}
    cast(round(cast({{ expression }} as decimal(38, 12)), {{ decimals }}) as double)
{%- endmacro %}

{% macro rate(numerator, denominator) -%}
    {{ half_up('cast(' ~ numerator ~ ' as double) / nullif(' ~ denominator ~ ', 0)', 4) }}
{%- endmacro %}

{% macro mean_2(expression, where=none) -%}
    {{ half_up('avg(cast(' ~ expression ~ ' as decimal(18, 6)))'
        ~ (' filter (where ' ~ where ~ ')' if where else ''), 2) }}
{%- endmacro %}

{% macro round_2(expression) -%}
    {{ half_up(expression, 2) }}
{%- endmacro %}
