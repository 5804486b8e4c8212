{#- Every delivered file with what became of it, for data stewards: loaded or rejected, rows
    read, loaded and quarantined, for DATEV files the Mandant and period, and how often the same
    bytes were delivered again (loading nothing). -#}
with

case_management as (
    select
        *,
        'case_management' as source_system
    from {{ ref('stg_case_management__file_registry') }}
),

accounting as (
    select
        *,
        'accounting' as source_system
    from {{ ref('stg_accounting__file_registry') }}
),

reference as (
    select
        *,
        'reference' as source_system
    from {{ ref('stg_reference__file_registry') }}
),

datev_headers as (
    select * from {{ ref('stg_accounting__file_headers') }}
),

quarantine as (
    select
        source_sha256,
        count(*) as quarantine_rows
    from (
        select source_sha256 from {{ ref('stg_case_management__quarantine') }}
        union all
        select source_sha256 from {{ ref('stg_accounting__quarantine') }}
    )
    group by source_sha256
),

-- The three registries have the same columns in the same order (macro stg_file_registry).
registrations as (
    select * from case_management
    union all
    select * from accounting
    union all
    select * from reference
),

-- A rejected file may come again with the same bytes (moved into the right folder, or once its
-- department is in the reference data): its latest registration is what became of it. A loaded
-- file delivered again (outcome 'repeated') loads nothing: those registrations are counted apart.
ranked_registrations as (
    select
        *,
        outcome = 'repeated' as is_repeat,
        row_number() over (
            partition by source_sha256, outcome = 'repeated' order by registered_at desc
        ) as registration_rank,
        count(*) over (partition by source_sha256, outcome = 'repeated') as n_registrations
    from registrations
),

registry as (
    select * from ranked_registrations
    where registration_rank = 1 and not is_repeat
),

repeats as (
    select
        source_sha256,
        n_registrations as times_delivered_again,
        registered_at as last_delivered_again_at,
        source_file as last_delivered_again_as
    from ranked_registrations
    where registration_rank = 1 and is_repeat
),

final as (
    select
        registry.source_sha256,
        registry.source_system,
        registry.organisation_code,
        -- case_management/<organisation>/<department>/<file>: the department's own delivery
        case when registry.source_system = 'case_management'
                then split_part(registry.source_file, '/', 3)
        end as department_code,
        registry.source_file,
        registry.entity,
        registry.profile,
        registry.outcome,
        registry.rows_read,
        registry.rows_loaded,
        registry.rows_quarantined,
        registry.rows_erased,
        coalesce(quarantine.quarantine_rows, 0) as quarantine_rows_stored,
        registry.rows_read
        = registry.rows_loaded + registry.rows_quarantined + registry.rows_erased
        or registry.outcome = 'rejected' as is_reconciled,
        registry.message,
        datev_headers.client_number as datev_client_number,
        datev_headers.period_from as datev_period_from,
        datev_headers.period_to as datev_period_to,
        registry.registered_at,
        registry.load_id,
        coalesce(repeats.times_delivered_again, 0) as times_delivered_again,
        repeats.last_delivered_again_at,
        repeats.last_delivered_again_as,
    from registry
    left join quarantine
        on registry.source_sha256 = quarantine.source_sha256
    left join repeats
        on registry.source_sha256 = repeats.source_sha256
    left join datev_headers
        on registry.source_sha256 = datev_headers.source_sha256
)

select * from final
