{#- Booking lines in force. A later file for the same organisation, Berater and Mandant replaces
    an earlier one on every day its period covers: a corrected re-delivery of a period replaces
    that period's bookings, a yearly file replaces the monthly ones it covers, and a correction
    of one month inside a yearly file replaces only that month. "Later" is the load order, then
    the file's creation time (header field 6), then the file name.

    Incremental (bookings are the second-largest table): a run reads only files of loads
    completed since the newest load already here, ranks them among themselves (they are all
    later than anything here), appends the lines in force, and then deletes the lines here that
    a later file covers (post-hook). Files newer than the newest load here have no lines here,
    so nothing is appended twice. `dbt build --full-refresh` rebuilds it from all files; the
    blocking check reconcile_bookings_to_files compares it with the raw lines every run. -#}
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        post_hook="{{ delete_superseded_bookings() }}",
    )
}}
with

source as (
    {{ completed_loads('raw_accounting', 'bookings') }}
),

headers as (
    {%- set since_last_build = "true" %}
    {%- if is_incremental() %}
        {%- set since_last_build = "load_id > (select coalesce(max(built.load_id), '') from "
            ~ this ~ " as built)" %}
    {%- endif %}
    select * from {{ ref('stg_accounting__file_headers') }}
    where is_buchungsstapel and {{ since_last_build }}
),

file_days as (
    select
        organisation_code,
        consultant_number,
        client_number,
        source_sha256,
        load_id,
        created_at,
        source_file,
        {{ days_between('period_from', 'period_to') }} as day,
    from headers
),

ranked_days as (
    select
        source_sha256,
        day,
        row_number() over (
            partition by organisation_code, consultant_number, client_number, day
            order by load_id desc, created_at desc nulls last, source_file desc
        ) as day_rank,
    from file_days
),

days_in_force as (
    select
        source_sha256,
        day,
    from ranked_days
    where day_rank = 1
),

final as (
    select
        source.source_sha256 || ':' || source.source_line as booking_id,
        headers.organisation_code,
        headers.consultant_number,
        headers.client_number,
        headers.chart_of_accounts,
        headers.account_length,
        headers.period_from,
        headers.period_to,
        source.document_date,
        source.amount_eur,
        source.amount_unsigned_eur,
        source.debit_credit,
        source.is_reversal,
        source.currency_code,
        source.account,
        source.contra_account,
        source.tax_key,
        source.document_number,
        source.posting_text,
        source.cost_centre_1,
        source.cost_centre_2,
        source.cost_quantity,
        headers.source_file,
        source.source_sha256,
        source.source_line,
        headers.load_id,
    from source
    inner join days_in_force
        on source.source_sha256 = days_in_force.source_sha256
        and source.document_date = days_in_force.day
    inner join headers
        on source.source_sha256 = headers.source_sha256
)

select * from final
