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
        format_version,
        consultant_number,
        client_number,
        fiscal_year_start,
        account_length,
        period_from,
        period_to,
        description,
        currency,
        chart_of_accounts,
        _dlt_load_id as load_id,
    from source
)

select * from final
