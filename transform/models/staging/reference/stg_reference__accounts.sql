with

source as (
    {{ latest_snapshot('raw_reference', 'accounts') }}
),

final as (
    select
        organisation_code,
        chart,
        cast(account_from as bigint) as account_from,
        cast(account_to as bigint) as account_to,
        category_type,
        category,
    from source
)

select * from final
