{#- The cost-centre member of bookings that carry none: most DATEV lines have no KOST1/KOST2,
    and they stay in the finance figures under this explicit member (never NULL in a key). -#}
{% macro no_cost_centre() -%}
    '(ohne Kostenstelle)'
{%- endmacro %}
