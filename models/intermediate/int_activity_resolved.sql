{{ config(order_by=['activity_date', 'user_id']) }}
{#- The daily rollup with users and accounts resolved: rules read this instead of joining
    identities and accounts once each. Rebuilt whole on every run (it is far smaller than the
    events), so identity merges and account changes apply to all history. -#}
with

activity as (

    select * from {{ ref('int_daily_activity') }}

),

identities as (

    select * from {{ ref('stg_posthog__person_distinct_ids') }}

),

account_keys as (

    select * from {{ ref('int_account_keys') }}

),

final as (

    select
        activity.activity_date as activity_date,
        coalesce(identities.person_id, activity.distinct_id) as user_id,
        account_keys.account_id as account_id,
        activity.event_name as event_name,
        activity.event_count as event_count,
        activity.last_at as last_at

    from activity
    left join identities
        on activity.distinct_id = identities.distinct_id
    left join account_keys
        on activity.account_key = account_keys.account_key

)

select * from final
