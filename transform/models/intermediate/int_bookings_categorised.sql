{#- Each booking with its cost or revenue category (from the account range) and the department
    and program of its cost centre (from KOST1 or KOST2, as the organisation declares). Bookings
    that map to nothing are kept with category 'unmapped'. -#}
with

bookings as (
    select * from {{ ref('stg_accounting__bookings') }}
),

accounts as (
    select * from {{ ref('stg_reference__accounts') }}
),

cost_centres as (
    select * from {{ ref('stg_reference__cost_centres') }}
),

categorised as (
    select
        bookings.*,
        coalesce(accounts.category_type, 'unmapped') as category_type,
        coalesce(accounts.category, 'unmapped') as category,
    from bookings
    left join accounts
        on bookings.organisation_code = accounts.organisation_code
        and try_cast(bookings.account as bigint) between accounts.account_from and accounts.account_to
),

final as (
    select
        categorised.booking_id,
        categorised.organisation_code,
        categorised.document_date,
        year(categorised.document_date) as booking_year,
        categorised.account,
        categorised.category_type,
        categorised.category,
        categorised.amount_eur,
        case when categorised.category_type = 'cost' then categorised.amount_eur else 0 end
            as cost_eur,
        case when categorised.category_type = 'revenue' then -categorised.amount_eur else 0 end
            as revenue_eur,
        coalesce(cost_centres.cost_centre, categorised.cost_centre_1) as cost_centre,
        cost_centres.department_code,
        cost_centres.program_code,
        cost_centres.cost_centre is not null as has_mapped_cost_centre,
        categorised.source_file,
        categorised.source_line,
    from categorised
    left join cost_centres
        on categorised.organisation_code = cost_centres.organisation_code
        and cost_centres.cost_centre = case cost_centres.kost_field
            when 'KOST2' then categorised.cost_centre_2
            else categorised.cost_centre_1
        end
)

select * from final
