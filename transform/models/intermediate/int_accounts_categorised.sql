{#- Every account that occurs in a booking (either side), with its category. The chart is the
    file header's SKR, else the one chart of the organisation's own ranges. Precedence: personal
    accounts (more digits than the Sachkontenlänge: debtors and creditors) are balance-sheet
    accounts; then the organisation's own ranges; then the chart's default ranges; within each,
    the narrowest range wins (more leading digits, then the smaller span). An account no range
    covers is 'unmapped'. -#}
with

bookings as (
    select * from {{ ref('stg_accounting__bookings') }}
),

own_ranges as (
    select * from {{ ref('stg_reference__accounts') }}
),

default_ranges as (
    select * from {{ ref('chart_of_accounts_defaults') }}
),

labels as (
    select * from {{ ref('stg_accounting__account_labels') }}
),

declared_charts as (
    select
        organisation_code,
        min(chart) as chart,
    from own_ranges
    group by organisation_code
    having count(distinct chart) = 1
),

accounts as (
    select distinct
        organisation_code,
        chart_of_accounts as header_chart,
        account_length,
        account,
    from bookings
    union
    select distinct
        organisation_code,
        chart_of_accounts as header_chart,
        account_length,
        contra_account as account,
    from bookings
    where contra_account is not null
),

resolved as (
    select
        accounts.organisation_code,
        accounts.header_chart,
        accounts.account_length,
        accounts.account,
        coalesce(accounts.header_chart, declared_charts.chart) as chart,
        -- lpad would cut a longer account; personal accounts are longer and never matched.
        case
            when length(accounts.account) >= accounts.account_length then accounts.account
            else lpad(accounts.account, cast(accounts.account_length as integer), '0')
        end as account_key,
        length(accounts.account) > accounts.account_length as is_personal_account,
    from accounts
    left join declared_charts
        on accounts.organisation_code = declared_charts.organisation_code
),

ranges as (
    select
        organisation_code,
        chart,
        account_from,
        account_to,
        category_type,
        category,
        1 as priority,
        'organisation' as mapped_by,
    from own_ranges
    union all
    select
        null as organisation_code,
        chart,
        account_from,
        account_to,
        category_type,
        category,
        2 as priority,
        'chart_default' as mapped_by,
    from default_ranges
),

ranked_matches as (
    select
        resolved.organisation_code,
        resolved.header_chart,
        resolved.account_length,
        resolved.account,
        ranges.category_type,
        ranges.category,
        ranges.mapped_by,
        ranges.account_from,
        ranges.account_to,
        row_number() over (
            partition by
                resolved.organisation_code,
                resolved.header_chart,
                resolved.account_length,
                resolved.account
            order by
                ranges.priority asc,
                length(ranges.account_from) desc,
                cast(ranges.account_to as decimal(38, 0))
                - cast(ranges.account_from as decimal(38, 0)),
                ranges.account_from
        ) as match_rank,
    from resolved
    inner join ranges
        on resolved.chart = ranges.chart
        and coalesce(ranges.organisation_code, resolved.organisation_code)
        = resolved.organisation_code
        and length(ranges.account_from) <= length(resolved.account_key)
        and left(resolved.account_key, length(ranges.account_from))
        between ranges.account_from and ranges.account_to
    where not resolved.is_personal_account
),

matches as (
    select * from ranked_matches
    where match_rank = 1
),

ranked_labels as (
    select
        organisation_code,
        {{ without_leading_zeros('account') }} as account_key,
        account_label,
        row_number() over (
            partition by organisation_code, {{ without_leading_zeros('account') }}
            order by load_id desc, source_file desc
        ) as label_rank,
    from labels
),

account_labels as (
    select * from ranked_labels
    where label_rank = 1
),

final as (
    select
        resolved.organisation_code,
        resolved.header_chart,
        resolved.account_length,
        resolved.account,
        resolved.chart,
        account_labels.account_label,
        case
            when resolved.is_personal_account then 'balance'
            else coalesce(matches.category_type, 'unmapped')
        end as category_type,
        case
            when resolved.is_personal_account then 'personal_accounts'
            else coalesce(matches.category, 'unmapped')
        end as category,
        case
            when resolved.is_personal_account then 'personal_account'
            else matches.mapped_by
        end as mapped_by,
        matches.account_from as range_from,
        matches.account_to as range_to,
    from resolved
    left join matches
        on resolved.organisation_code = matches.organisation_code
        and resolved.header_chart is not distinct from matches.header_chart
        and resolved.account_length = matches.account_length
        and resolved.account = matches.account
    left join account_labels
        on resolved.organisation_code = account_labels.organisation_code
        and {{ without_leading_zeros('resolved.account') }} = account_labels.account_key
)

select * from final
