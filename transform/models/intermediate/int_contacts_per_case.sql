{#- Contacts per case: how many, how long, first and second contact (the second decides
    acceptance on step 3 of the Wirkungstreppe), last contact; `load_id`: the newest load that
    delivered one of its contacts.

    Incremental by case: a build after new loads counts again only the cases whose contacts
    changed, those of every contact staged since this model's last build (its newest
    `load_id`), as it is delivered now and as each earlier delivery of it had it (a contact
    moved to another case changes both). A case left without contacts gets a row with no
    contacts, which the post-hook deletes: a full build has no row for it.
    `dbt build --full-refresh` counts all. -#}
{{
    config(
        materialized='incremental',
        unique_key=['organisation_code', 'case_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook="{{ delete_cases_without_contacts() }}",
    )
}}
with

contacts as (
    select * from {{ ref('stg_case_management__contacts') }}
),

{%- if is_incremental() %}

    -- Raw numbers, not the staged keys: the raw rows then meet the few changed contacts by the
    -- stored pseudonym, and only the rows found get their key per folder (macros/ids.sql); a
    -- number that another folder repeats brings its case along, which is counted again alike.
    -- Read from the raw table, not from `contacts`: a second reader of the model would make
    -- DuckDB materialise every staged contact (1.3 GB at demo scale 100).
    changed_contacts as (
        select distinct
            changed.organisation_code,
            changed.contact_id,
        from {{ source('raw_case_management', 'contacts') }} as changed
        where
            changed._dlt_load_id > (
                select coalesce(max(built.load_id), '') from {{ this }} as built
            )
            and {{ completed_load('raw_case_management', 'contacts', 'changed._dlt_load_id') }}
    ),

    -- Used below: the linter renders each `if` on its own (this one on, those using it off).
    -- The raw rows are joined with the few changed contacts before the completed-load filter:
    -- DuckDB then hashes the few, not every delivered contact.
    affected_cases as (  -- noqa: ST03
        select distinct
            delivered.organisation_code,
            {{ scoped_id('case_id', 'delivered') }} as case_id,
        from {{ source('raw_case_management', 'contacts') }} as delivered
        semi join changed_contacts
            on delivered.organisation_code = changed_contacts.organisation_code
            and delivered.contact_id = changed_contacts.contact_id
        where {{ completed_load('raw_case_management', 'contacts', 'delivered._dlt_load_id') }}
    ),

{%- endif %}

numbered as (
    select
        contacts.organisation_code,
        contacts.case_id,
        contacts.contact_date,
        contacts.contact_type,
        contacts.duration_minutes,
        contacts.load_id,
        row_number() over (
            partition by contacts.organisation_code, contacts.case_id
            order by contacts.contact_date, contacts.contact_id
        ) as contact_no,
    from contacts
    {%- if is_incremental() %}
        semi join affected_cases
            on contacts.organisation_code = affected_cases.organisation_code
            and contacts.case_id = affected_cases.case_id
    {%- endif %}
),

per_case as (
    select
        organisation_code,
        case_id,
        count(*) as n_contacts,
        count(*) filter (where contact_type = 'group') as n_group_contacts,
        cast(coalesce(sum(duration_minutes), 0) as bigint) as contact_minutes,
        min(contact_date) as first_contact_date,
        min(contact_date) filter (where contact_no = 2) as second_contact_date,
        max(contact_date) as last_contact_date,
        max(load_id) as load_id,
    from numbered
    group by organisation_code, case_id
),

final as (
    select * from per_case
    {%- if is_incremental() %}
        union all by name
        select
            affected_cases.organisation_code,
            affected_cases.case_id,
            0 as n_contacts,
        from affected_cases
        anti join per_case
            on affected_cases.organisation_code = per_case.organisation_code
            and affected_cases.case_id = per_case.case_id
    {%- endif %}
)

select * from final
