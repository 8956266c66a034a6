{{ config(alias='explore_unknown_events') }}
{#- One row per event name (over all loaded events, not only the window) that is not in the
    standard events library: typos, custom events, or events that need adding to the library. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

events as (

    select * from {{ ref('beton', 'beton_int_explore_activity') }}

),

standard_events as (

    select event_name from {{ ref('beton', 'beton_standard_events') }}

),

final as (

    select
        event_name,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct user_id) as users,
        min(first_event_at) as first_seen,
        max(last_event_at) as last_seen,
        {{ as_of }} as as_of

    from events
    where event_name not in (select event_name from standard_events)
    group by event_name

)

select * from final
