{#- A corrected re-delivery for the same Mandant and period replaces that period's bookings:
    only the latest file per (organisation, Berater, Mandant, period) is read. -#}
with

source as (
    {{ completed_loads('raw_accounting', 'bookings') }}
),

files as (
    select
        organisation_code,
        consultant_number,
        client_number,
        period_from,
        period_to,
        source_sha256,
        max(_dlt_load_id) as load_id,
    from source
    group by all
),

latest_files as (
    select source_sha256
    from files
    qualify row_number() over (
        partition by organisation_code, consultant_number, client_number, period_from, period_to
        order by load_id desc, source_sha256 desc
    ) = 1
),

final as (
    select
        source.source_sha256 || ':' || source.source_line as booking_id,
        source.organisation_code,
        source.consultant_number,
        source.client_number,
        source.period_from,
        source.period_to,
        source.document_date,
        source.amount_eur,
        source.debit_credit,
        source.currency_code,
        source.account,
        source.contra_account,
        source.document_number,
        source.posting_text,
        source.cost_centre_1,
        source.cost_centre_2,
        source.cost_quantity,
        source.is_reversal,
        source.source_file,
        source.source_line,
        source._dlt_load_id as load_id,
    from source
    inner join latest_files
        on source.source_sha256 = latest_files.source_sha256
)

select * from final
