{#-
    The Spark engine builds the same models as DuckDB. Dialect differences live here and in the
    dispatched macros (duckdb__ / spark__), never in copies of models.

    The project's SQL style ends select lists with a trailing comma (DuckDB accepts it, Spark's
    parser does not): every statement dbt-spark creates passes through spark_sql, which drops a
    comma that only comments and whitespace separate from the next `from` or `)`.
-#}
{% macro spark_sql(code) -%}
    {{- return(modules.re.sub(
        '(?i),((?:\\s|--[^\\n]*\\n)*)(\\bfrom\\b|\\))', '\\1\\2', code)) -}}
{%- endmacro %}

{% macro spark__create_table_as(temporary, relation, compiled_code, language='sql') -%}
    {%- if language == 'sql' -%}
        {%- set compiled_code = spark_sql(compiled_code) -%}
    {%- endif -%}
    {{- dbt.spark__create_table_as(temporary, relation, compiled_code, language) -}}
{%- endmacro %}

{% macro spark__create_view_as(relation, sql) -%}
    {{- dbt.spark__create_view_as(relation, spark_sql(sql)) -}}
{%- endmacro %}

{% macro spark__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {{- dbt.default__get_unit_test_sql(spark_sql(main_sql), expected_fixture_sql,
        expected_column_names) -}}
{%- endmacro %}

{#-
    The contracts declare DuckDB's type names. Spark spells an unbounded text `string` (its
    `varchar` needs a length); dbt's contract check and the unit tests' fixtures cast through
    dbt.cast, so the name is translated there and the YAML keeps one spelling.
-#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_type(type) }})
{%- endmacro %}

{% macro spark_type(type) -%}
    {{- return('string' if type | trim | lower in ('varchar', 'text') else type) -}}
{%- endmacro %}

{#-
    The raw tables of the lake (Parquet, one folder per dlt table under
    $DATENWERK_LAKE/raw/<schema>/<table>) as tables of Spark's catalog, named as the sources
    declare them: `dbt run-operation register_lake_sources` before a Spark build. The loads'
    _dlt_loads are in the folder completed_loads: the _dlt_* folders there are the lake
    pipeline's own bookkeeping (JSONL), not the loads staging filters by.
-#}
{% macro register_lake_sources() -%}
    {%- set lake = env_var('DATENWERK_LAKE', '../data/lake') -%}
    {%- set schemas = [] -%}
    {%- for source in graph.sources.values() -%}
        {%- if source.schema not in schemas -%}
            {%- do schemas.append(source.schema) -%}
            {%- do run_query('create database if not exists ' ~ source.schema) -%}
            {%- do run_query('drop table if exists ' ~ source.schema ~ '._dlt_loads') -%}
            {%- do run_query('create table ' ~ source.schema ~ '._dlt_loads using parquet location '
                ~ "'" ~ lake ~ '/raw/' ~ source.schema ~ "/completed_loads'") -%}
        {%- endif -%}
        {%- set table = source.schema ~ '.' ~ source.identifier -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
        {%- do run_query('create table ' ~ table ~ ' using parquet location '
            ~ "'" ~ lake ~ '/raw/' ~ source.schema ~ '/' ~ source.identifier ~ "'") -%}
    {%- endfor -%}
    {%- do run_query('create database if not exists datenwerk_holds') -%}
    {%- for table in ['held_loads', 'held_files'] -%}
        {%- do run_query('drop table if exists datenwerk_holds.' ~ table) -%}
        {%- do run_query('create table datenwerk_holds.' ~ table ~ ' using parquet location '
            ~ "'" ~ lake ~ '/raw/datenwerk_holds/' ~ table ~ "'") -%}
    {%- endfor -%}
    {{ log('Registered the lake\'s raw tables: ' ~ schemas | join(', '), info=true) }}
{%- endmacro %}

{#-
    Plain Parquet tables have neither delete nor merge, so on Spark the incremental models are
    rebuilt from all loads on every run (a table, never a partial read); with Delta or Iceberg
    in the cluster they could stay incremental. DuckDB keeps dbt's own behaviour.
-#}
{% macro is_incremental() -%}
    {%- if target.type == 'spark' -%}
        {{- return(false) -}}
    {%- endif -%}
    {{- return(dbt.is_incremental()) -}}
{%- endmacro %}

{% materialization incremental, adapter='spark' -%}
    {{- return(dbt.materialization_table_spark()) -}}
{%- endmaterialization %}
