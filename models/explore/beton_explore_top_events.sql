{{ config(alias='explore_top_events') }}
{#- One row per event name seen in the explore window, most frequent first, with whether it
    is in the standard events library. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    {{ beton.explore_window_events() }}

),

{#- nullable so an event outside the library gets null, not '', on every engine -#}
standard_events as (

    select
        event_name,
        {{ beton.cast_nullable('category', dbt.type_string()) }} as category

    from {{ ref('beton', 'beton_standard_events') }}

),

per_event as (

    select
        event_name,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct user_id) as users,
        count(distinct account_id) as accounts,
        count(distinct event_date) as active_days,
        min(first_event_at) as first_seen,
        max(last_event_at) as last_seen

    from window_events
    group by event_name

),

totals as (

    select cast(coalesce(sum(events), 0) as {{ dbt.type_bigint() }}) as window_events

    from window_events

),

final as (

    select
        row_number() over (order by per_event.events desc, per_event.event_name) as event_rank,
        per_event.event_name as event_name,
        per_event.event_name in (select event_name from standard_events) as is_standard,
        standard_events.category as category,
        per_event.events as events,
        {{ beton.ratio('per_event.events', 'totals.window_events') }} as share_of_events,
        per_event.users as users,
        per_event.accounts as accounts,
        per_event.active_days as active_days,
        per_event.first_seen as first_seen,
        per_event.last_seen as last_seen,
        {{ as_of }} as as_of

    from per_event
    cross join totals
    left join standard_events
        on per_event.event_name = standard_events.event_name

)

select * from final
