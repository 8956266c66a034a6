{{ config(alias='int_events', materialized='view') }}
{#- Every event with its user (person) and account resolved, and its UTC date: a view over
    the staged events, so identity and account resolution always reflect the current
    person_distinct_id and accounts tables. Rules do not read it (they read the daily
    rollup); the explore views do. (Properties stay in stg_posthog__events.) -#}
with

events as (

    select * from {{ ref('beton', 'beton_stg_posthog__events') }}

),

final as (

    select
        events.event_uuid as event_uuid,
        events.event_name as event_name,
        events.event_at as event_at,
        {{ beton.to_date('events.event_at') }} as event_date,
        events.distinct_id as distinct_id,
        {{ beton.resolved_user_id('events') }} as user_id,
        identities.person_id is not null as is_resolved,
        {{ beton.resolved_account_id() }} as account_id

    from events
    {{ beton.resolve_joins('events', beton.identity_relations()) | indent(4) }}

)

select * from final
{{ beton.view_settings() }}
