{{ config(
    alias='int_daily_activity',
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_date',
    on_schema_change='fail',
    order_by=['activity_date', 'distinct_id', 'event_name'],
    pre_hook="{{ beton.delete_stale_rows(beton.daily_activity_fingerprints(), added_columns={'first_at': 'last_at'}) }}",
) }}
{#- Daily rollup of events per (day, distinct id, account key, event name), built in one pass
    over the events: the JSON properties are parsed once, for the account link, and the events
    are aggregated in the same scan; no event-grain copy is kept. Rules without per-event
    property filters read this instead of raw events. Stored in day order (beton.cluster_by), so
    a rule's window reads only its days.

    Incremental: a run re-reads only the days from (the newest day already here -
    beton_incremental_lookback_days) on and replaces them whole, so late events within the
    lookback are picked up and nothing doubles. The cutoff is read before the query is
    compiled, so it is a constant the engine pushes down to the events table; it is bounded by
    as_of (beton.incremental_cutoff), so events stamped in the future never stop later runs
    from reading new days. Every row records what it was built from (input_fingerprint: input
    mode, source relations, schema mapping, account link); when that changes, the pre-hook
    deletes the old rows and the whole history is rolled up again. Who a distinct
    id is and which account a key names are resolved later (int_activity_resolved, rules), so
    identity merges and CRM changes apply to all history without a rebuild. first_at (the day's
    first event) is for int_explore_activity, which reads its whole days from here as well; a
    table built before that column existed gets it from the pre-hook, and its rows, without
    rollup_layout '2', are rolled up again (the input fingerprint, which the history also keys
    on, stays as it was). -#}
{%- set fingerprints = beton.daily_activity_fingerprints() -%}
{%- set cutoff = beton.incremental_cutoff('activity_date', fingerprints) if is_incremental() else none -%}

{%- set events -%}
    select * from {{ ref('beton', 'beton_stg_posthog__events') }}
    {%- if cutoff is not none %}
    where event_at >= {{ beton.timestamp_literal(cutoff ~ ' 00:00:00') }}
    {%- endif %}
{%- endset %}

{{ beton.daily_rollup_sql(events, {
    'input_fingerprint': beton.string_literal(fingerprints['input_fingerprint']),
    'rollup_layout': beton.string_literal(fingerprints['rollup_layout']),
    'first_at': 'min(event_at)',
}) }}
{{ beton.cluster_by(['activity_date']) }}
