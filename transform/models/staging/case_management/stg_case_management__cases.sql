with

source as (
    {{ latest_by_key(
        'raw_case_management', 'cases', ['organisation_code', delivery_folder(), 'case_id']
    ) }}
),

final as (
    select
        organisation_code,
        department_code,
        {{ scoped_id('case_id') }} as case_id,
        {{ scoped_id('client_id') }} as client_id,
        program_code,
        referral_source,
        start_date,
        end_date,
        end_reason,
        {{ scoped_id('caseworker_id') }} as caseworker_id,
        -- Case-level totals and the end-only problem-area result, for exports without contact
        -- or assessment rows (a KDS case list).
        contacts_total,
        contact_minutes_total,
        problem_area,
        problem_area_result,
        _dlt_load_id as load_id,
    from source
)

select * from final
