with

source as (
    {{ completed_loads('raw_accounting', 'quarantine') }}
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
