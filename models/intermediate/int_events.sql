{{ config(materialized='view') }}
{#- Every event with its user (person) and account resolved, and its UTC date. A view over the
    incremental int_events_extracted: identity and account resolution always reflect the
    current person_distinct_id and accounts tables. (Properties stay in stg_posthog__events.) -#}
with

events as (

    select * from {{ ref('int_events_extracted') }}

),

final as (

    select
        events.event_uuid as event_uuid,
        events.event_name as event_name,
        events.event_at as event_at,
        events.event_date as event_date,
        events.distinct_id as distinct_id,
        {{ beton.resolved_user_id('events') }} as user_id,
        identities.person_id is not null as is_resolved,
        {{ beton.resolved_account_id() }} as account_id

    from events
    {{ beton.resolve_joins('events', beton.identity_relations()) }}

)

select * from final
{{ beton.view_settings() }}
