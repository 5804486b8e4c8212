{#- Rows whose combination of columns is not unique (a composite key), without a package:
    nothing may be downloaded at run time. -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
