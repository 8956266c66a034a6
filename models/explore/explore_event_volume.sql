{#- One row per (UTC date, event name) with events in the explore window: event volume over
    time per event. Dates and events without events have no row. -#}
{%- set days = beton.explore_days() -%}
{%- set first_day = beton.date_literal(beton.as_of_date_text(days - 1)) -%}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    select * from {{ ref('int_events') }}
    where event_date >= {{ first_day }}
        and event_at <= {{ as_of }}

),

final as (

    select
        event_date,
        event_name,
        count(*) as events,
        count(distinct user_id) as users,
        count(distinct account_id) as accounts,
        {{ as_of }} as as_of

    from window_events
    group by event_date, event_name

)

select * from final
