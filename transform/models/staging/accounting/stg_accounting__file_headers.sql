with

source as (
    {{ completed_loads('raw_accounting', 'file_headers') }}
),

final as (
    select
        organisation_code,
        source_sha256,
        source_file,
        format_kind,
        version,
        data_category,
        format_name,
        format_version,
        created_at,
        consultant_number,
        client_number,
        fiscal_year_start,
        account_length,
        period_from,
        period_to,
        description,
        currency,
        chart_of_accounts,
        header_fields,
        encoding,
        delimiter,
        column_mapping,
        control_lines,
        control_amount_eur,
        control_absolute_eur,
        control_unreadable_lines,
        quarantined_lines,
        quarantined_amount_eur,
        quarantined_absolute_eur,
        data_category in (21, 22) as is_buchungsstapel,
        _dlt_load_id as load_id,
    from source
    -- A re-delivery held for a steward's confirmation replaces nothing until it is released.
    where source_sha256 not in ({{ held_files() }})
)

select * from final
