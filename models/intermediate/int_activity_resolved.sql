{{ config(order_by=['activity_date', 'user_id']) }}
{#- The daily rollup with users and accounts resolved: rules read this instead of joining
    identities and accounts once each. Rebuilt whole on every run (it is far smaller than the
    events), so identity merges and account changes apply to all history. -#}
with

activity as (

    select * from {{ ref('int_daily_activity') }}

),

final as (

    select
        activity.activity_date as activity_date,
        {{ beton.resolved_user_id('activity') }} as user_id,
        {{ beton.resolved_account_id() }} as account_id,
        activity.event_name as event_name,
        activity.event_count as event_count,
        activity.last_at as last_at

    from activity
    {{ beton.resolve_joins('activity', beton.identity_relations()) }}

)

select * from final
