{#-
    The latest delivered version of each record: deliveries are full or partial snapshots, and a
    corrected re-delivery (same business key, changed values) must win over the earlier one.
    Ties inside one load are broken by file and line so the result is deterministic.
-#}
{#- `where`: a condition on the delivered rows before the latest is taken (an incremental
    model reads only the loads it has not seen). -#}
{% macro latest_by_key(source_name, table_name, key_columns, where=none) -%}
    {{- return(adapter.dispatch('latest_by_key')(source_name, table_name, key_columns, where)) -}}
{%- endmacro %}

{% macro duckdb__latest_by_key(source_name, table_name, key_columns, where=none) -%}
    select *
    from ({{ completed_loads(source_name, table_name) }}) as delivered
    {%- if where %}
    where {{ where }}
    {%- endif %}
    qualify row_number() over (
        partition by {{ key_columns | join(', ') }}
        order by _dlt_load_id desc, source_file desc, source_line desc
    ) = 1
{%- endmacro %}

{#- The latest snapshot of a reference table per organisation. -#}
{% macro latest_snapshot(source_name, table_name) -%}
    {{- return(adapter.dispatch('latest_snapshot')(source_name, table_name)) -}}
{%- endmacro %}

{% macro duckdb__latest_snapshot(source_name, table_name) -%}
    select *
    from ({{ completed_loads(source_name, table_name) }}) as delivered
    qualify _dlt_load_id = max(_dlt_load_id) over (partition by organisation_code)
{%- endmacro %}

{#- Spark has no `qualify`: the window is filtered in an outer query. Its rank column stays in
    `select *`; the staging models select their columns by name. -#}
{% macro spark__latest_by_key(source_name, table_name, key_columns, where=none) -%}
    select * from (
        select
            delivered.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _dlt_load_id desc, source_file desc, source_line desc
            ) as _delivery_rank
        from ({{ completed_loads(source_name, table_name) }}) as delivered
        {%- if where %}
        where {{ where }}
        {%- endif %}
    ) as ranked
    where _delivery_rank = 1
{%- endmacro %}

{% macro spark__latest_snapshot(source_name, table_name) -%}
    select * from (
        select
            delivered.*,
            max(_dlt_load_id) over (partition by organisation_code) as _latest_load_id
        from ({{ completed_loads(source_name, table_name) }}) as delivered
    ) as ranked
    where _dlt_load_id = _latest_load_id
{%- endmacro %}
