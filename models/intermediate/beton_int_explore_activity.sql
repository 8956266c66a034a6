{{ config(alias='int_explore_activity', materialized='view') }}
{#- The activity every explore table reads: rows of (UTC date, event name, distinct id, user,
    account, before/after as_of) with the events' count, first and last timestamp. The grain
    keeps every column an explore table counts distinct (dates, names, distinct ids, users,
    accounts), so their distinct counts stay exact; one such group may span several rows (see
    below), so readers sum `events` and take min/max of the timestamps, never count rows.

    Days before the as_of date come from the incremental daily rollup (int_daily_activity, whose
    rows carry their first and last timestamp), resolved to users and accounts as the rules
    resolve them: one row per rollup row, so two account keys of one distinct id that name the
    same account (or none) are two rows. Only the as_of date and later (events after as_of are
    counted apart) are read from the events, with a time filter the engine pushes down to the
    events table. A view, not a table: a build does not rewrite a copy of the rollup (4M rows at
    10M events) before the explore tables can start, and an explore table's window filter reaches
    the rollup's scan (stored in day order); only data health and unknown events read all days. -#}
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
        cast(activity.event_count as {{ dbt.type_bigint() }}) as events,
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
        cast(count(*) as {{ dbt.type_bigint() }}) as events,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at

    from {{ ref('beton', 'beton_int_events') }}
    where event_at >= {{ beton.timestamp_literal(as_of_day ~ ' 00:00:00') }}
    -- every column above that is not an aggregate
    group by all

)

select * from whole_days
union all
select * from from_as_of_day
{{ beton.view_settings() }}
