{#-
    Rows of a dlt table that belong to completed loads only. dlt writes rows before it records
    the load in _dlt_loads, so a killed load leaves rows behind whose load id is not (yet) there.

    Loads held by a failed batch check (warehouse/holds.py: one JSON file per load id under
    $DATENWERK_HOME/quality/held_loads/) are left out too, until a data engineer releases them.
    The file registry and the quarantine pass `include_held=true`: what happened to a file
    stays visible while its rows are held.
-#}
{% macro completed_loads(source_name, table_name, include_held=false) -%}
    select *
    from {{ source(source_name, table_name) }}
    where {{ completed_load(source_name, table_name, '_dlt_load_id', include_held) }}
{%- endmacro %}

{#- The condition of completed_loads on its own, for a load id column (`column`, may be
    qualified): a query that joins the raw rows with few others first can filter the few. -#}
{% macro completed_load(source_name, table_name, column, include_held=false) -%}
    {%- set relation = source(source_name, table_name) -%}
    {{ column }} in (
        select load_id
        from {{ relation.incorporate(path={'identifier': '_dlt_loads'}) }}
        where status = 0
    )
    {%- if not include_held %}
    and {{ column }} not in ({{ held_load_ids() }})
    {%- endif %}
{%- endmacro %}

{#- Where the holds are: an absolute path, because the staging views keep it and other processes
    query them. DATENWERK_HELD_LOADS is set by Datenwerk; by hand it follows DATENWERK_HOME.
    Read only when dbt executes: dbt parses again every file that read a variable whose value
    changed since the last parse, and this path differs from home to home. -#}
{% macro held_loads_folder() -%}
    {%- if not execute -%}
        {{- return('') -}}
    {%- endif -%}
    {{- return(env_var(
        'DATENWERK_HELD_LOADS', env_var('DATENWERK_HOME', '../data') ~ '/quality/held_loads'
    )) -}}
{%- endmacro %}

{#- The load ids held now. read_text returns no rows (no error) while the folder is empty or
    missing. -#}
{% macro held_load_ids() -%}
    {{- return(adapter.dispatch('held_load_ids')()) -}}
{%- endmacro %}

{% macro duckdb__held_load_ids() -%}
    {%- set folder = held_loads_folder() -%}
    select load_id from (
        select
            json_extract_string(content, '$.load_id') as load_id,
            json_extract(content, '$.files') as files,
        from read_text('{{ folder }}/*.json')
    ) where load_id is not null and files is null
{%- endmacro %}

{#- Files held on their own (a record with `files`: warehouse/holds.py hold_files), by sha256:
    the rest of their load goes ahead. -#}
{% macro held_files() -%}
    {{- return(adapter.dispatch('held_files')()) -}}
{%- endmacro %}

{% macro duckdb__held_files() -%}
    {%- set folder = held_loads_folder() -%}
    select unnest(json_extract_string(content, '$.files[*]')) as source_sha256
    from read_text('{{ folder }}/*.json')
    where json_extract_string(content, '$.load_id') is not null
{%- endmacro %}

{#- Spark reads the holds from the lake, where warehouse/lake.py writes them with the raw
    tables (the same subqueries as above, run by DuckDB). -#}
{% macro spark__held_load_ids() -%}
    select load_id from datenwerk_holds.held_loads
{%- endmacro %}

{% macro spark__held_files() -%}
    select source_sha256 from datenwerk_holds.held_files
{%- endmacro %}
