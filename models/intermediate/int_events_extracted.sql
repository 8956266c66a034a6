{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='event_date',
    on_schema_change='fail',
    order_by=['event_date', 'distinct_id'],
) }}
{#- Every event's own facts, JSON parsed once (the account link), built incrementally: a run
    re-reads only the days from (the newest day already here - beton_incremental_lookback_days)
    on and replaces them whole, so late events within the lookback are picked up and nothing
    doubles. The cutoff is read before the query is compiled, so it is a constant the engine
    pushes down to the events table. Who a distinct id is and which account a key names are
    resolved later (int_events, rules), so identity merges and CRM changes apply to all history
    without a rebuild. -#}
{%- set cutoff = beton.incremental_cutoff('event_date') if is_incremental() else none -%}

with

events as (

    select * from {{ ref('stg_posthog__events') }}
    {%- if cutoff is not none %}
    where event_at >= {{ beton.timestamp_literal(cutoff ~ ' 00:00:00') }}
    {%- endif %}

),

final as (

    select
        event_uuid,
        event_name,
        event_at,
        {{ beton.to_date('event_at') }} as event_date,
        distinct_id,
        account_key

    from events

)

select * from final
