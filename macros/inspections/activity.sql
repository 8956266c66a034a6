{#- Activity in a window ending at as_of, at daily grain — (activity_date, user_id, account_id,
    event_name, event_count, last_at) — with users and accounts resolved. Whole days before the
    as_of date come from the rollup (int_activity_resolved over the incremental
    int_daily_activity); the as_of date itself from raw events up to as_of, so the result is
    exact for any as_of. -#}

{% macro identity_relations() -%}
    {{ return({
        'identities': ref('stg_posthog__person_distinct_ids'),
        'account_keys': ref('int_account_keys'),
    }) }}
{%- endmacro %}

{% macro activity_relations() -%}
    {%- set relations = {
        'activity': ref('int_activity_resolved'),
        'events': ref('int_events_extracted'),
        'raw_events': ref('stg_posthog__events'),
    } -%}
    {%- do relations.update(beton.identity_relations()) -%}
    {{ return(relations) }}
{%- endmacro %}


{#- The one way a row with a distinct_id and an account_key is resolved: the user is the person
    the distinct id maps to (else the distinct id itself), the account the one the key names.
    resolve_joins() goes after `from <row_alias>`; resolved_user_id() / resolved_account_id()
    are its columns. -#}
{% macro resolve_joins(row_alias, relations) -%}
    left join {{ relations['identities'] }} as identities
        on {{ row_alias }}.distinct_id = identities.distinct_id
    left join {{ relations['account_keys'] }} as account_keys
        on {{ row_alias }}.account_key = account_keys.account_key
{%- endmacro %}

{% macro resolved_user_id(row_alias) -%}
    coalesce(identities.person_id, {{ row_alias }}.distinct_id)
{%- endmacro %}

{% macro resolved_account_id() -%}
    account_keys.account_id
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
        {{ beton.resolved_user_id('today') }} as user_id,
        {{ beton.resolved_account_id() }} as account_id,
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
    {{ beton.resolve_joins('today', relations) }}
{%- endmacro %}


{#- The same grain from the raw events that pass a rule's per-event filters (property filters
    need each event's properties, which the rollup does not keep). The window's time filter is
    a constant, pushed down to the events table. -#}
{% macro filtered_activity_sql(rule, window_days, relations) -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set window_start = beton.timestamp_literal(beton.as_of_date_text((window_days | int) - 1) ~ ' 00:00:00') %}
    select
        {{ beton.resolved_user_id('events') }} as user_id,
        {{ beton.resolved_account_id() }} as account_id,
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
    {{ beton.resolve_joins('events', relations) }}
    group by
        {{ beton.resolved_user_id('events') }},
        {{ beton.resolved_account_id() }},
        events.event_date,
        events.event_name
{%- endmacro %}
