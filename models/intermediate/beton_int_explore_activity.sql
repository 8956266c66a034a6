{{ config(alias='int_explore_activity', order_by=['event_date', 'event_name', 'distinct_id']) }}
{#- The events aggregated once for every explore table: one row per (UTC date, event name,
    distinct id, user, account, before/after as_of) with the events' count, first and last
    timestamp. Every explore table reads this instead of the events. The grain keeps every
    column an explore table counts distinct (dates, names, distinct ids, users, accounts), so
    their distinct counts stay exact.

    Days before the as_of date come from the incremental daily rollup (int_daily_activity, whose
    rows carry their first and last timestamp), resolved to users and accounts as the rules
    resolve them; only the as_of date and later (events after as_of are counted apart) are read
    from the events, with a time filter the engine pushes down to the events table. So a daily
    run does not read the whole history again. Several account keys of one distinct id can name
    the same account (or none), hence the final group by. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
{%- set as_of_day = beton.as_of_date_text() -%}

with

whole_days as (

    select
        activity.activity_date as event_date,
        activity.event_name as event_name,
        activity.distinct_id as distinct_id,
        {{ beton.resolved_user_id('activity') }} as user_id,
        identities.person_id is not null as is_resolved,
        {{ beton.resolved_account_id() }} as account_id,
        activity.last_at > {{ as_of }} as is_after_as_of,  -- false here: the same type as below
        activity.event_count as events,
        activity.first_at as first_event_at,
        activity.last_at as last_event_at

    from {{ ref('beton', 'beton_int_daily_activity') }} as activity
    {{ beton.resolve_joins('activity', beton.identity_relations()) | indent(4) }}
    where activity.activity_date < {{ beton.date_literal(as_of_day) }}

),

from_as_of_day as (

    select
        event_date,
        event_name,
        distinct_id,
        user_id,
        is_resolved,
        account_id,
        event_at > {{ as_of }} as is_after_as_of,
        count(*) as events,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at

    from {{ ref('beton', 'beton_int_events') }}
    where event_at >= {{ beton.timestamp_literal(as_of_day ~ ' 00:00:00') }}
    -- every column above that is not an aggregate
    group by all

),

final as (

    select
        event_date,
        event_name,
        distinct_id,
        user_id,
        is_resolved,
        account_id,
        is_after_as_of,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at

    from (
        select * from whole_days
        union all
        select * from from_as_of_day
    ) as activity
    group by all

)

select * from final
