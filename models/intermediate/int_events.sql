{{ config(materialized='view') }}
{#- Every event with its user (person) and account resolved, and its UTC date. A view over the
    incremental int_events_extracted: identity and account resolution always reflect the
    current person_distinct_id and accounts tables. (Properties stay in stg_posthog__events.) -#}
with

events as (

    select * from {{ ref('int_events_extracted') }}

),

identities as (

    select * from {{ ref('stg_posthog__person_distinct_ids') }}

),

account_keys as (

    select * from {{ ref('int_account_keys') }}

),

final as (

    select
        events.event_uuid as event_uuid,
        events.event_name as event_name,
        events.event_at as event_at,
        events.event_date as event_date,
        events.distinct_id as distinct_id,
        coalesce(identities.person_id, events.distinct_id) as user_id,
        identities.person_id is not null as is_resolved,
        account_keys.account_id as account_id

    from events
    left join identities
        on events.distinct_id = identities.distinct_id
    left join account_keys
        on events.account_key = account_keys.account_key

)

select * from final
{{ beton.view_settings() }}
