{{ config(alias='int_explore_activity', order_by=['event_date', 'event_name', 'distinct_id']) }}
{#- The events aggregated once for every explore table: one row per (UTC date, event name,
    distinct id, user, account, before/after as_of) with the events' count, first and last
    timestamp. Every explore table reads this instead of the events, so a build scans the events
    (JSON, identity and account joins) once for all seven, not once each. The grain keeps every
    column an explore table counts distinct (dates, names, distinct ids, users, accounts), so
    their distinct counts stay exact. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

events as (

    select * from {{ ref('beton', 'beton_int_events') }}

),

final as (

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

    from events
    -- every column above that is not an aggregate
    group by all

)

select * from final
