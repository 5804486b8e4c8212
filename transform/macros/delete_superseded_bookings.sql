{#- Post-hook of the incremental stg_accounting__bookings: delete the lines on days that a file
    of a later load covers (same organisation, Berater and Mandant). Idempotent: after a full
    build nothing is superseded, so nothing is deleted. -#}
{% macro delete_superseded_bookings() -%}
    {{- return(adapter.dispatch('delete_superseded_bookings')()) -}}
{%- endmacro %}

{#- Spark rebuilds the model in full (see is_incremental): nothing is superseded. -#}
{% macro spark__delete_superseded_bookings() -%}
{%- endmacro %}

{% macro duckdb__delete_superseded_bookings() -%}
delete from {{ this }} as booking
using (
    select
        organisation_code,
        consultant_number,
        client_number,
        {{ days_between('period_from', 'period_to') }} as day,
        load_id,
    from {{ ref('stg_accounting__file_headers') }}
    where is_buchungsstapel
) as later
where booking.organisation_code = later.organisation_code
    and booking.consultant_number is not distinct from later.consultant_number
    and booking.client_number is not distinct from later.client_number
    and booking.document_date = later.day
    and booking.load_id < later.load_id
{%- endmacro %}
