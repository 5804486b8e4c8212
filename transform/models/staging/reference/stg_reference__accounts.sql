{#- Account ranges of an organisation's chart -> cost/revenue/balance category. Bounds stay text:
    they are compared with the leading digits of an account (leading zeros matter). -#}
with

source as (
    {{ latest_snapshot('raw_reference', 'accounts') }}
),

final as (
    select
        organisation_code,
        -- [0-9], not \d: Spark reads a backslash in a string literal as an escape.
        'SKR' || lpad(regexp_extract(chart, '([0-9]+)', 1), 2, '0') as chart,
        trim(account_from) as account_from,
        trim(account_to) as account_to,
        lower(trim(category_type)) as category_type,
        lower(trim(category)) as category,
    from source
)

select * from final
