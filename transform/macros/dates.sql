{#- One row per day from `first` to `last` (both included), in a select list. -#}
{% macro days_between(first, last) -%}
    {{- return(adapter.dispatch('days_between')(first, last)) -}}
{%- endmacro %}

{% macro duckdb__days_between(first, last) -%}
    unnest(generate_series({{ first }}, {{ last }}, interval 1 day))::date
{%- endmacro %}

{% macro spark__days_between(first, last) -%}
    explode(sequence(cast({{ first }} as date), cast({{ last }} as date), interval 1 day))
{%- endmacro %}

{#- One row per whole number from `first` to `last` (both included), in a select list. -#}
{% macro numbers_between(first, last) -%}
    {{- return(adapter.dispatch('numbers_between')(first, last)) -}}
{%- endmacro %}

{% macro duckdb__numbers_between(first, last) -%}
    unnest(generate_series({{ first }}, {{ last }}))
{%- endmacro %}

{% macro spark__numbers_between(first, last) -%}
    explode(sequence({{ first }}, {{ last }}))
{%- endmacro %}

{#- Whole days from `first` to `last`. -#}
{% macro days_from_to(first, last) -%}
    {{- return(adapter.dispatch('days_from_to')(first, last)) -}}
{%- endmacro %}

{% macro duckdb__days_from_to(first, last) -%}
    date_diff('day', {{ first }}, {{ last }})
{%- endmacro %}

{% macro spark__days_from_to(first, last) -%}
    datediff({{ last }}, {{ first }})
{%- endmacro %}

{#- Day of the week, Monday = 1 .. Sunday = 7 (ISO 8601). -#}
{% macro iso_day_of_week(day) -%}
    {{- return(adapter.dispatch('iso_day_of_week')(day)) -}}
{%- endmacro %}

{% macro duckdb__iso_day_of_week(day) -%}
    isodow({{ day }})
{%- endmacro %}

{% macro spark__iso_day_of_week(day) -%}
    (weekday({{ day }}) + 1)
{%- endmacro %}
