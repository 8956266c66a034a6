{{ config(alias='int_activity_resolved', materialized='view') }}
{#- The daily rollup with users and accounts resolved (and each event name's index in
    int_event_names): what rules without property filters read. A view, so identity merges and
    account changes apply to all history at once, and a daily run does not rewrite a copy of the
    rollup: each reader's day filter reaches the rollup's scan (it is stored in day order) and
    only its window is joined to the small identity, account-key and event-name tables. -#}
with

activity as (

    select * from {{ ref('beton', 'beton_int_daily_activity') }}

),

final as (

    select
        activity.activity_date as activity_date,
        {{ beton.resolved_user_id('activity') }} as user_id,
        {{ beton.resolved_account_id() }} as account_id,
        activity.event_name as event_name,
        event_names.name_index as name_index,
        activity.event_count as event_count,
        activity.last_at as last_at

    from activity
    {{ beton.resolve_joins('activity', beton.identity_relations()) | indent(4) }}
    {{ beton.event_name_join('activity', {'event_names': ref('beton', 'beton_int_event_names')}) | indent(4) }}

)

select * from final
{{ beton.view_settings() }}
