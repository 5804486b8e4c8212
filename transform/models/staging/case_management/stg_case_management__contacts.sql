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
    {%- set new_loads = none %}
    {%- if is_incremental() %}
    {%- set new_loads = "_dlt_load_id > (select coalesce(max(load_id), '') from " ~ this ~ ")" %}
    {%- endif %}
    {{ latest_by_key(
        'raw_case_management', 'contacts', ['organisation_code', delivery_folder(), 'contact_id'],
        where=new_loads
    ) }}
),

final as (
    select
        organisation_code,
        department_code,
        {{ scoped_id('contact_id') }} as contact_id,
        {{ scoped_id('case_id') }} as case_id,
        contact_date,
        contact_type,
        duration_minutes,
        {{ scoped_id('staff_id') }} as staff_id,
        _dlt_load_id as load_id,
    from source
)

select * from final
