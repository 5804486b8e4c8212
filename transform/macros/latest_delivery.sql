{#-
    The latest delivered version of each record: deliveries are full or partial snapshots, and a
    corrected re-delivery (same business key, changed values) must win over the earlier one.
    Ties inside one load are broken by file and line so the result is deterministic.
-#}
{% macro latest_by_key(source_name, table_name, key_columns) -%}
    select *
    from ({{ completed_loads(source_name, table_name) }}) as delivered
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _dlt_load_id desc, source_file desc, source_line desc
    ) = 1
{%- endmacro %}

{#- The latest snapshot of a reference table per organisation. -#}
{% macro latest_snapshot(source_name, table_name) -%}
    select *
    from ({{ completed_loads(source_name, table_name) }}) as delivered
    qualify _dlt_load_id = max(_dlt_load_id) over (partition by organisation_code)
{%- endmacro %}
