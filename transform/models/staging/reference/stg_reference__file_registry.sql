with

source as (
    {{ completed_loads('raw_reference', 'file_registry') }}
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
        message,
        registered_at,
        _dlt_load_id as load_id,
    from source
)

select * from final
