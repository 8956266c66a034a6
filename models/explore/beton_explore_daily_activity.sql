{{ config(alias='explore_daily_activity') }}
{#- One row per UTC date of the explore window (days without events included, with zeros):
    events, active users and accounts — the event-volume-over-time chart. -#}
{%- set days = beton.explore_days() -%}
{%- set first_day = beton.date_literal(beton.as_of_date_text(days - 1)) -%}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    {{ beton.explore_window_events() }}

),

day_numbers as (

    {{ dbt.generate_series(days) }}

),

calendar as (

    select
        {{ beton.add_days(first_day, 'cast(generated_number - 1 as ' ~ dbt.type_int() ~ ')') }} as event_date

    from day_numbers

),

daily as (

    select
        event_date,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct event_name) as distinct_events,
        count(distinct user_id) as active_users,
        count(distinct account_id) as active_accounts

    from window_events
    group by event_date

),

final as (

    select
        calendar.event_date as event_date,
        coalesce(daily.events, 0) as events,
        coalesce(daily.distinct_events, 0) as distinct_events,
        coalesce(daily.active_users, 0) as active_users,
        coalesce(daily.active_accounts, 0) as active_accounts,
        {{ as_of }} as as_of

    from calendar
    left join daily
        on calendar.event_date = daily.event_date

)

select * from final
