{#- The daily rollup — (activity_date, distinct_id, account_key, event_name, event_count,
    last_at) — of the events that pass one rule's per-event filters (event names and property
    filters): the generated model models/intermediate/rules/int_filtered_activity__<key>.sql of
    a rule with property filters. Their JSON properties are parsed when a day is first rolled
    up, not on every run; the rule reads these rows for the whole days of its window.

    `rule_filter` is the rule's normalised form restricted to what filters events ({format, key,
    event_names, property_filters}); `fingerprint` identifies that filter. Incremental like
    int_daily_activity (the lookback days are replaced whole): when the rule's filter changes, or
    the input it reads (beton.input_fingerprint), every row built under the old one is deleted
    (the model's pre-hook) and the whole history is rolled up again in the same run. A rule has this model only when it has property filters,
    so there is always at least one predicate. -#}
{% macro filtered_rollup_model(rule_filter, fingerprint) -%}
    {%- set fingerprints = beton.filtered_rollup_fingerprints(fingerprint) -%}
    {%- set cutoff = beton.incremental_cutoff('activity_date', fingerprints) if is_incremental() else none -%}
    {%- set events -%}
select *
from {{ ref('beton', 'beton_stg_posthog__events') }}
    {%- for predicate in beton.event_predicates(rule_filter) %}
{{ 'where' if loop.first else '    and' }} {{ predicate }}
    {%- endfor %}
    {%- if cutoff is not none %}
    and event_at >= {{ beton.timestamp_literal(cutoff ~ ' 00:00:00') }}
    {%- endif %}
    {%- endset -%}
-- the rule's matching events rolled up per day, distinct id, account key and event name
{{ beton.daily_rollup_sql(events, {
    'filter_fingerprint': beton.string_literal(fingerprints['filter_fingerprint']),
    'input_fingerprint': beton.string_literal(fingerprints['input_fingerprint']),
}) }}
{{ beton.cluster_by(['activity_date']) }}
{%- endmacro %}


{#- What a filtered rollup's rows record: the rule's filter and the input. -#}
{% macro filtered_rollup_fingerprints(fingerprint) -%}
    {{ return({'filter_fingerprint': fingerprint, 'input_fingerprint': beton.input_fingerprint()}) }}
{%- endmacro %}


{#- The filtered rollup's pre-hook (its name is in every generated model): rows that another
    filter or another input built are deleted before the model runs
    (incremental_cutoff(..., fingerprints) has already chosen to read the whole history). -#}
{% macro delete_other_filter_rows(fingerprint) -%}
    {{ return(beton.delete_stale_rows(beton.filtered_rollup_fingerprints(fingerprint))) }}
{%- endmacro %}
