{{ config(alias='explore_top_users') }}
{#- One row per user with events in the explore window, most active first: the users a BI
    tool lists as "top users by activity". -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    {{ beton.explore_window_events() }}

),

users as (

    select * from {{ ref('beton', 'beton_int_users') }}

),

per_user as (

    select
        user_id,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct event_name) as distinct_events,
        count(distinct event_date) as active_days,
        min(first_event_at) as first_seen,
        max(last_event_at) as last_seen

    from window_events
    group by user_id

),

totals as (

    select cast(coalesce(sum(events), 0) as {{ dbt.type_bigint() }}) as window_events

    from window_events

),

{#- every user with events is in int_users (persons and unresolved distinct ids): inner join -#}
final as (

    select
        row_number() over (order by per_user.events desc, per_user.user_id) as activity_rank,
        per_user.user_id as user_id,
        users.is_person as is_person,
        users.email as email,
        users.name as name,
        users.job_title as job_title,
        users.account_id as account_id,
        per_user.events as events,
        {{ beton.ratio('per_user.events', 'totals.window_events') }} as share_of_events,
        per_user.distinct_events as distinct_events,
        per_user.active_days as active_days,
        per_user.first_seen as first_seen,
        per_user.last_seen as last_seen,
        {{ as_of }} as as_of

    from per_user
    cross join totals
    inner join users
        on per_user.user_id = users.user_id

)

select * from final
