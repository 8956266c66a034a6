{#- The daily grain every rollup shares — (activity_date, distinct_id, account_key, event_name,
    event_count, last_at) — over staged events (rows of stg_posthog__events, or a filtered
    subquery of them, as `events_sql`). account_key is '' when the event has none. Used by
    int_daily_activity, the rules' filtered rollups, and the as_of day's rows read from raw
    events; extra_columns (name -> expression) are added as they are. -#}
{% macro daily_rollup_sql(events_sql, extra_columns=none) -%}
    {%- set key = beton.assume_not_null("coalesce(account_key, '')") -%}
select
    {{ beton.to_date('event_at') }} as activity_date,
    distinct_id,
    {{ key }} as account_key,
    event_name,
    count(*) as event_count,
    max(event_at) as last_at
    {%- for name, expression in (extra_columns or {}).items() %},
    {{ expression }} as {{ name }}
    {%- endfor %}

from (
    {{ events_sql | trim | indent(4) }}
) as events
group by
    {{ beton.to_date('event_at') }},
    distinct_id,
    {{ key }},
    event_name
{%- endmacro %}


{#- The as_of day's rollup rows, from the staged events up to as_of (the time filter is a
    constant pushed down to the events table), optionally only the events passing `predicates`
    (SQL conditions, e.g. beton.event_predicates(rule)): a window's last, partial day, which the
    incremental rollups cannot hold yet. -#}
{% macro as_of_day_rows_sql(relations, predicates=[]) -%}
    {%- set events -%}
select *
from {{ relations['raw_events'] }}
where event_at >= {{ beton.timestamp_literal(beton.as_of_date_text() ~ ' 00:00:00') }}
    and event_at <= {{ beton.timestamp_literal(beton.as_of_text()) }}
    {%- for predicate in predicates %}
    and {{ predicate }}
    {%- endfor %}
    {%- endset -%}
{{ beton.daily_rollup_sql(events) }}
{%- endmacro %}


{#- What int_daily_activity's rows record about what built them: the input (input_fingerprint,
    which the history keys on too) and the layout of a row (rollup_layout: '2' since rows carry
    first_at). A run that finds rows with other values deletes them and rolls the whole history
    up again (beton.incremental_cutoff, beton.delete_stale_rows). -#}
{% macro daily_activity_fingerprints() -%}
    {{ return({'input_fingerprint': beton.input_fingerprint(), 'rollup_layout': '2'}) }}
{%- endmacro %}
