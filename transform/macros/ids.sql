{#-
    Source-system numbers are unique only within the system that issued them, and Datenwerk
    knows a system by the department folder its exports arrive in
    (`case_management/<organisation>/<department>/<file>`, the raw rows' `source_file`). Two
    departments running two systems may both have a case "F-1" (and a client "1001"): each
    identifier is therefore made unique per delivering folder before staging keys or joins on
    it. The raw tables keep the keyed pseudonym of the number; staging holds the MD5 of the
    folder and that pseudonym (32 hex digits, as long as a pseudonym; MD5 as a checksum of a
    value nobody can choose without the key, the cheapest hash both engines have), never the
    clear number. A model that keeps the latest delivery of each record partitions by the
    folder and the raw pseudonym, which groups the same rows without hashing.

    One system that serves several departments delivers into one folder and names the
    department in a column (an export profile's `department:`): its numbers stay one numbering.
-#}
{#- `relation`: the alias whose `source_file` and column are meant, where a query has several. -#}
{% macro delivery_folder(relation=none) -%}
    coalesce(split_part({{ relation ~ '.' if relation }}source_file, '/', 3), '')
{%- endmacro %}

{% macro scoped_id(column, relation=none) -%}
    {{- return(adapter.dispatch('scoped_id')(column, relation)) -}}
{%- endmacro %}

{% macro duckdb__scoped_id(column, relation=none) -%}
    md5({{ delivery_folder(relation) }} || '|' || {{ relation ~ '.' if relation }}{{ column }})
{%- endmacro %}

{% macro spark__scoped_id(column, relation=none) -%}
    md5(concat({{ delivery_folder(relation) }}, '|', {{ relation ~ '.' if relation }}{{ column }}))
{%- endmacro %}
