{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_date',
    on_schema_change='fail',
    order_by=['activity_date', 'distinct_id', 'event_name'],
) }}
{#- Daily rollup of events per (day, distinct id, account key, event name): what rules without
    per-event property filters read instead of raw events. Built incrementally over the same
    lookback as int_events_extracted. -#}
{%- set cutoff = beton.incremental_cutoff('activity_date') if is_incremental() else none -%}

with

events as (

    select * from {{ ref('int_events_extracted') }}
    {%- if cutoff is not none %}
    where event_date >= {{ beton.date_literal(cutoff) }}
    {%- endif %}

),

final as (

    select
        event_date as activity_date,
        distinct_id,
        {{ beton.assume_not_null("coalesce(account_key, '')") }} as account_key,
        event_name,
        count(*) as event_count,
        max(event_at) as last_at

    from events
    group by
        event_date,
        distinct_id,
        {{ beton.assume_not_null("coalesce(account_key, '')") }},
        event_name

)

select * from final
