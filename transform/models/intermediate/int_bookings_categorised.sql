{#- The profit-and-loss side of every booking: one row per booking and side (account, contra
    account) whose account is not a balance-sheet account. A booking "6000 S 100 against bank
    1800" gives one row (6000, +100); "bank 1200 H 24.95 against 4940" gives one row (4940,
    +24.95): the contra account always gets the opposite of the account's signed amount. The cost
    centre is the organisation's KOST field (KOST1, or KOST2 for SKR 42), or the member
    no_cost_centre() when the booking has none; bookings whose account or cost centre maps to
    nothing are kept ('unmapped' category, empty department/program). -#}
with

bookings as (
    select * from {{ ref('stg_accounting__bookings') }}
),

accounts as (
    select * from {{ ref('int_accounts_categorised') }}
),

cost_centres as (
    select * from {{ ref('stg_reference__cost_centres') }}
),

kost_fields as (
    select
        organisation_code,
        min(kost_field) as kost_field,
    from cost_centres
    group by organisation_code
),

sides as (
    select
        booking_id,
        'account' as side,
        organisation_code,
        chart_of_accounts,
        account_length,
        account,
        contra_account as other_account,
        amount_eur,
        document_date,
        cost_centre_1,
        cost_centre_2,
        source_file,
        source_line,
    from bookings
    union all
    select
        booking_id,
        'contra_account' as side,
        organisation_code,
        chart_of_accounts,
        account_length,
        contra_account as account,
        account as other_account,
        -amount_eur as amount_eur,
        document_date,
        cost_centre_1,
        cost_centre_2,
        source_file,
        source_line,
    from bookings
    where contra_account is not null
),

categorised as (
    select
        sides.*,
        accounts.chart,
        accounts.account_label,
        accounts.category_type,
        accounts.category,
        coalesce(
            nullif(trim(case coalesce(kost_fields.kost_field, 'KOST1')
                when 'KOST2' then sides.cost_centre_2
                else sides.cost_centre_1
            end), ''),
            {{ no_cost_centre() }}
        ) as cost_centre,
    from sides
    inner join accounts
        on sides.organisation_code = accounts.organisation_code
        and sides.chart_of_accounts is not distinct from accounts.header_chart
        and sides.account_length = accounts.account_length
        and sides.account = accounts.account
    left join kost_fields
        on sides.organisation_code = kost_fields.organisation_code
    where accounts.category_type != 'balance'
),

final as (
    select
        categorised.booking_id,
        categorised.side,
        categorised.organisation_code,
        categorised.document_date,
        cast(date_trunc('month', categorised.document_date) as date) as booking_month,
        cast(year(categorised.document_date) as bigint) as booking_year,  -- an int on Spark
        categorised.account,
        categorised.account_label,
        categorised.other_account,
        categorised.chart,
        categorised.category_type,
        categorised.category,
        categorised.amount_eur,
        case when categorised.category_type = 'cost' then categorised.amount_eur else 0 end
            as cost_eur,
        case when categorised.category_type = 'revenue' then -categorised.amount_eur else 0 end
            as revenue_eur,
        categorised.cost_centre,
        cost_centres.department_code,
        cost_centres.program_code,
        cost_centres.cost_centre is not null as is_cost_centre_mapped,
        categorised.source_file,
        categorised.source_line,
    from categorised
    left join cost_centres
        on categorised.organisation_code = cost_centres.organisation_code
        and categorised.cost_centre = cost_centres.cost_centre
)

select * from final
