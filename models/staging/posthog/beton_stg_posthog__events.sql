{{ config(alias='stg_posthog__events') }}
{#- Events as the rules see them: one row per event uuid. Rows without a uuid, event name,
    distinct id or timestamp are dropped (they cannot be counted once or attributed), and when
    a uuid occurs several times (at-least-once delivery; PostHog's ReplacingMergeTree read
    before it merges) one row is kept: the first by (timestamp, event name, distinct id,
    properties text, person id). int_event_quality counts what was dropped. Only uuids that
    really repeat (stg_posthog__repeated_event_uuids, a small table built once per run) go through
    the window function; the rest pass straight through, so a reader's day filter reaches the
    scan of the input. -#}
{#- The input rows with every key set, renamed and typed (a macro rather than a CTE: it is read
    twice below, and DuckDB materialises a CTE read twice, copying every event before a reader's
    day filter applies) -#}
{%- set keyed -%}
    select
        {{ beton.cast_nullable(beton.input_column('events', 'uuid'), dbt.type_string()) }} as event_uuid,
        {{ beton.cast_nullable(beton.input_column('events', 'event'), dbt.type_string()) }} as event_name,
        {{ beton.cast_nullable(beton.input_column('events', 'distinct_id'), dbt.type_string()) }} as distinct_id,
        {{ beton.to_utc_timestamp(beton.input_column('events', 'timestamp')) }} as event_at,
        {{ beton.json_object_or_empty(beton.input_column('events', 'properties')) }} as properties,
        {{ beton.cast_nullable(beton.input_column('events', 'person_id'), dbt.type_string()) }} as event_person_id

    from {{ beton.input_relation('events') }}
    where {{ beton.input_events_with_keys() | indent(4) }}
{%- endset -%}
{%- set repeated_uuids = ref('beton', 'beton_stg_posthog__repeated_event_uuids') -%}
with

-- uuids seen once: kept as they are
single as (

    select
        {{ beton.assume_not_null('event_uuid') }} as event_uuid,
        {{ beton.assume_not_null('event_name') }} as event_name,
        {{ beton.assume_not_null('distinct_id') }} as distinct_id,
        {{ beton.assume_not_null('event_at') }} as event_at,
        properties,
        event_person_id

    from (
        {{ keyed | indent(8) }}
    ) as keyed
    where event_uuid not in (select event_uuid from {{ repeated_uuids }})

),

-- uuids seen more than once: the first row by (timestamp, event, distinct id, properties, person id)
first_of_repeated as (

    select
        {{ beton.assume_not_null('event_uuid') }} as event_uuid,
        {{ beton.assume_not_null('event_name') }} as event_name,
        {{ beton.assume_not_null('distinct_id') }} as distinct_id,
        {{ beton.assume_not_null('event_at') }} as event_at,
        properties,
        event_person_id

    from (
        select
            *,
            row_number() over (
                partition by event_uuid
                order by event_at, event_name, distinct_id, properties, coalesce(event_person_id, '')
            ) as duplicate_rank
        from (
            {{ keyed | indent(12) }}
        ) as keyed
        where event_uuid in (select event_uuid from {{ repeated_uuids }})
    ) as ranked
    where duplicate_rank = 1

),

deduplicated as (

    select * from single
    union all
    select * from first_of_repeated

),

final as (

    select
        event_uuid,
        event_name,
        distinct_id,
        event_at,
        properties,
        event_person_id,
        {{ beton.account_key('properties') }} as account_key

    from deduplicated

)

select * from final
