{{ config(alias='explore_event_volume') }}
{#- One row per (UTC date, event name) with events in the explore window: event volume over
    time per event. Dates and events without events have no row. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    {{ beton.explore_window_events() }}

),

final as (

    select
        event_date,
        event_name,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct user_id) as users,
        count(distinct account_id) as accounts,
        {{ as_of }} as as_of

    from window_events
    group by event_date, event_name

)

select * from final
