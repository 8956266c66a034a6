{{ config(order_by=['event_date', 'user_id']) }}
{#- Every event with its user (person) and account resolved, and its UTC date: the one table
    inspection rules read. JSON is parsed once here (the account link); rules parse only the
    keys their property filters name. -#}
with

events as (

    select * from {{ ref('stg_posthog__events') }}

),

identities as (

    select * from {{ ref('stg_posthog__person_distinct_ids') }}

),

{#- two accounts claiming one key: the smallest account id wins, so an event never doubles -#}
account_keys as (

    select
        account_key,
        min(account_id) as account_id

    from {{ ref('stg_posthog__accounts') }}
    where account_key is not null
        and account_key != ''
    group by account_key

),

final as (

    select
        events.event_uuid as event_uuid,
        events.event_name as event_name,
        events.event_at as event_at,
        {{ beton.to_date('events.event_at') }} as event_date,
        events.distinct_id as distinct_id,
        coalesce(identities.person_id, events.distinct_id) as user_id,
        identities.person_id is not null as is_resolved,
        account_keys.account_id as account_id,
        events.properties as properties

    from events
    left join identities
        on events.distinct_id = identities.distinct_id
    left join account_keys
        on events.account_key = account_keys.account_key

)

select * from final
