{#- Age bands at case start, as youth-welfare and adult statistics report them (child, adolescent,
    young adult, adult, older adult); 'unknown' when the birth year is missing. -#}
{% macro age_band(age) -%}
    case
        when {{ age }} is null then 'unknown'
        when {{ age }} < 14 then '0-13'
        when {{ age }} < 18 then '14-17'
        when {{ age }} < 27 then '18-26'
        when {{ age }} < 45 then '27-44'
        when {{ age }} < 65 then '45-64'
        else '65+'
    end
{%- endmacro %}
