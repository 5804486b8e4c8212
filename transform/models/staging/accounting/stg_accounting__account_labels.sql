{#- The latest label of each account of a Mandant (Kontenbeschriftungen, data category 20). -#}
with

source as (
    {{ completed_loads('raw_accounting', 'account_labels') }}
),

headers as (
    select * from {{ ref('stg_accounting__file_headers') }}
),

ranked as (
    select
        source.organisation_code,
        headers.consultant_number,
        headers.client_number,
        source.account,
        source.account_label,
        source.language_id,
        headers.source_file,
        source.source_line,
        headers.load_id,
        row_number() over (
            partition by
                source.organisation_code, headers.consultant_number,
                headers.client_number, source.account
            order by headers.load_id desc, headers.source_file desc, source.source_line desc
        ) as label_rank,
    from source
    inner join headers
        on source.source_sha256 = headers.source_sha256
),

final as (
    select
        organisation_code,
        consultant_number,
        client_number,
        account,
        account_label,
        language_id,
        source_file,
        source_line,
        load_id,
    from ranked
    where label_rank = 1
)

select * from final
