{#- Service contacts, latest delivery per contact. Incremental (the largest table): a run reads
    only the rows of loads completed since the last run and replaces the contacts they deliver
    again; `datenwerk run --full-refresh` (dbt build --full-refresh) rebuilds it from all loads. -#}
{{
    config(
        materialized='incremental',
        unique_key=['organisation_code', 'contact_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}
with

source as (
    select *
    from ({{ completed_loads('raw_case_management', 'contacts') }}) as delivered
    {%- if is_incremental() %}
        where
            _dlt_load_id > (select coalesce(max(built.load_id), '') from {{ this }} as built)
    {%- endif %}
    qualify row_number() over (
            partition by organisation_code, contact_id
            order by _dlt_load_id desc, source_file desc, source_line desc
        ) = 1
),

final as (
    select
        organisation_code,
        department_code,
        contact_id,
        case_id,
        contact_date,
        contact_type,
        duration_minutes,
        staff_id,
        _dlt_load_id as load_id,
    from source
)

select * from final
