{#- Activity in a window ending at as_of, at daily grain — (activity_date, user_id, account_id,
    event_name, name_index, event_count, last_at) — with users and accounts resolved. Whole days before the
    as_of date come from the rollup (int_activity_resolved over the incremental
    int_daily_activity); the as_of date itself from the staged events up to as_of (one day's
    worth, the time filter pushed down to the events table), so the result is exact for any
    as_of. -#}

{% macro identity_relations() -%}
    {{ return({
        'identities': ref('beton', 'beton_stg_posthog__person_distinct_ids'),
        'account_keys': ref('beton', 'beton_int_account_keys'),
    }) }}
{%- endmacro %}

{#- The event-name dictionary (name -> index) joined onto raw-event rows; rollup rows carry
    name_index already. -#}
{% macro event_name_join(row_alias, relations) -%}
left join {{ relations['event_names'] }} as event_names
    on {{ row_alias }}.event_name = event_names.event_name
{%- endmacro %}

{% macro activity_relations() -%}
    {%- set relations = {
        'activity': ref('beton', 'beton_int_activity_resolved'),
        'rollup': ref('beton', 'beton_int_daily_activity'),
        'raw_events': ref('beton', 'beton_stg_posthog__events'),
        'event_names': ref('beton', 'beton_int_event_names'),
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


{#- The rollup rows a window reads: its whole days before the as_of date (the as_of day
    itself comes from the staged events, as_of_day_rows_sql). Two predicates, one per line. -#}
{% macro window_whole_days_sql(window_days) -%}
    activity_date > {{ beton.date_literal(beton.as_of_date_text(window_days | int)) }}
    and activity_date < {{ beton.date_literal(beton.as_of_date_text()) }}
{%- endmacro %}


{% macro window_activity_sql(window_days, relations) -%}
select
    user_id,
    account_id,
    activity_date,
    event_name,
    name_index,
    event_count,
    last_at
from {{ relations['activity'] }}
where {{ beton.window_whole_days_sql(window_days) }}

union all

select
    {{ beton.resolved_user_id('today') }} as user_id,
    {{ beton.resolved_account_id() }} as account_id,
    today.activity_date as activity_date,
    today.event_name as event_name,
    event_names.name_index as name_index,
    today.event_count as event_count,
    today.last_at as last_at
from (
    {{ beton.as_of_day_rows_sql(relations) | indent(4) }}
) as today
{{ beton.resolve_joins('today', relations) }}
{{ beton.event_name_join('today', relations) }}
{%- endmacro %}


{#- Every event in the window per account key — (account_key, event_count) — straight from
    the rollup (and the as_of day's staged events), summed per key before anything is joined:
    what an account's total activity (account_events) needs, with no identity resolution. -#}
{% macro window_account_events_sql(window_days, relations) -%}
select
    account_key,
    sum(event_count) as event_count
from (
    select
        account_key,
        event_count
    from {{ relations['rollup'] }}
    where {{ beton.window_whole_days_sql(window_days) | indent(4) }}

    union all

    select
        account_key,
        event_count
    from (
        {{ beton.as_of_day_rows_sql(relations) | indent(8) }}
    ) as today
) as key_rows
group by account_key
{%- endmacro %}


{#- The same grain for the events that pass a rule's per-event filters (property filters
    need each event's properties, which the shared rollup does not keep): whole days before the
    as_of date from the rule's own incremental rollup (relations['filtered'],
    int_filtered_activity__<key>, macros/rollups/filtered_rollup.sql), the as_of date from
    the staged events up to as_of. -#}
{% macro filtered_activity_sql(rule, window_days, relations) -%}
select
    {{ beton.resolved_user_id('events') }} as user_id,
    {{ beton.resolved_account_id() }} as account_id,
    events.activity_date as activity_date,
    events.event_name as event_name,
    event_names.name_index as name_index,
    sum(events.event_count) as event_count,
    max(events.last_at) as last_at

from (
    select
        activity_date,
        distinct_id,
        account_key,
        event_name,
        event_count,
        last_at
    from {{ relations['filtered'] }}
    where {{ beton.window_whole_days_sql(window_days) | indent(4) }}

    union all

    {{ beton.as_of_day_rows_sql(relations, beton.event_predicates(rule)) | indent(4) }}
) as events
{{ beton.resolve_joins('events', relations) }}
{{ beton.event_name_join('events', relations) }}
group by
    {{ beton.resolved_user_id('events') }},
    {{ beton.resolved_account_id() }},
    events.activity_date,
    events.event_name,
    event_names.name_index
{%- endmacro %}
