{#-
    Rows of a dlt table that belong to completed loads only. dlt writes rows before it records
    the load in _dlt_loads, so a killed load leaves rows behind whose load id is not (yet) there.
-#}
{% macro completed_loads(source_name, table_name) -%}
    {%- set relation = source(source_name, table_name) -%}
    select *
    from {{ relation }}
    where _dlt_load_id in (
        select load_id
        from {{ relation.database }}.{{ relation.schema }}._dlt_loads
        where status = 0
    )
{%- endmacro %}
