{#- Activity in a window ending at as_of, at daily grain — (activity_date, user_id, account_id,
    event_name, event_count, last_at) — with users and accounts resolved. Whole days before the
    as_of date come from the rollup (int_activity_resolved over the incremental
    int_daily_activity); the as_of date itself from raw events up to as_of, so the result is
    exact for any as_of. -#}

{% macro activity_relations() -%}
    {{ return({
        'activity': ref('int_activity_resolved'),
        'events': ref('int_events_extracted'),
        'raw_events': ref('stg_posthog__events'),
        'identities': ref('stg_posthog__person_distinct_ids'),
        'account_keys': ref('int_account_keys'),
    }) }}
{%- endmacro %}


{% macro window_activity_sql(window_days, relations) -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set as_of_date = beton.date_literal(beton.as_of_date_text()) -%}
    {%- set window_start_exclusive = beton.date_literal(beton.as_of_date_text(window_days | int)) -%}
    {%- set key = beton.assume_not_null("coalesce(account_key, '')") -%}
    select
        user_id,
        account_id,
        activity_date,
        event_name,
        event_count,
        last_at
    from {{ relations['activity'] }}
    where activity_date > {{ window_start_exclusive }}
        and activity_date < {{ as_of_date }}

    union all

    select
        coalesce(identities.person_id, today.distinct_id) as user_id,
        account_keys.account_id as account_id,
        today.activity_date as activity_date,
        today.event_name as event_name,
        today.event_count as event_count,
        today.last_at as last_at
    from (
        select
            event_date as activity_date,
            distinct_id,
            {{ key }} as account_key,
            event_name,
            count(*) as event_count,
            max(event_at) as last_at
        from {{ relations['events'] }}
        where event_date = {{ as_of_date }}
            and event_at <= {{ as_of }}
        group by event_date, distinct_id, {{ key }}, event_name
    ) as today
    left join {{ relations['identities'] }} as identities
        on today.distinct_id = identities.distinct_id
    left join {{ relations['account_keys'] }} as account_keys
        on today.account_key = account_keys.account_key
{%- endmacro %}


{#- The same grain from the raw events that pass a rule's per-event filters (property filters
    need each event's properties, which the rollup does not keep). The window's time filter is
    a constant, pushed down to the events table. -#}
{% macro filtered_activity_sql(rule, window_days, relations) -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set window_start = beton.timestamp_literal(beton.as_of_date_text((window_days | int) - 1) ~ ' 00:00:00') %}
    select
        coalesce(identities.person_id, events.distinct_id) as user_id,
        account_keys.account_id as account_id,
        events.event_date as activity_date,
        events.event_name as event_name,
        count(*) as event_count,
        max(events.event_at) as last_at

    from (
        select
            event_name,
            event_at,
            {{ beton.to_date('event_at') }} as event_date,
            distinct_id,
            account_key
        from {{ relations['raw_events'] }}
        where event_at >= {{ window_start }}
            and event_at <= {{ as_of }}
            and {{ beton.event_filter_sql(rule) }}
    ) as events
    left join {{ relations['identities'] }} as identities
        on events.distinct_id = identities.distinct_id
    left join {{ relations['account_keys'] }} as account_keys
        on events.account_key = account_keys.account_key
    group by
        coalesce(identities.person_id, events.distinct_id),
        account_keys.account_id,
        events.event_date,
        events.event_name
{%- endmacro %}
