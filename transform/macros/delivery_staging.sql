{#- Every source keeps a file registry and a quarantine with the same columns (written by
    ingestion/delivery.py); their staging models are the same select over completed loads. -#}
{% macro stg_file_registry(source_name) -%}
{#- rows_erased came later (the erasure register): a registry that no file has reached since
    has not got the column yet, and none of its files left rows out. -#}
{%- set has_erased = execute and 'rows_erased' in (
    adapter.get_columns_in_relation(source(source_name, 'file_registry'))
    | map(attribute='name') | list) -%}
with

source as (
    {{ completed_loads(source_name, 'file_registry', include_held=true) }}
),

final as (
    select
        source_sha256,
        source_file,
        organisation_code,
        entity,
        profile,
        outcome,
        rows_read,
        rows_loaded,
        rows_quarantined,
        {% if has_erased %}coalesce(rows_erased, 0){% else %}cast(0 as bigint){% endif %}
            as rows_erased,
        message,
        registered_at,
        _dlt_load_id as load_id,
    from source
)

select * from final
{%- endmacro %}

{% macro stg_quarantine(source_name) -%}
with

source as (
    {{ completed_loads(source_name, 'quarantine', include_held=true) }}
),

final as (
    select
        source_file,
        source_sha256,
        entity,
        source_line,
        field,
        reason,
        offending_value,
        _dlt_load_id as load_id,
    from source
)

select * from final
{%- endmacro %}
