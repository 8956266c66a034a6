{{ config(alias='stg_posthog__event_quality', materialized='table') }}
{#- One row: what stg_posthog__events left out of the events input, so a bad load is seen
    rather than silently dropped. A table (unlike the other staging models) because it is a
    full scan of the events' key columns: explore_data_health and `beton run` read it after every
    build, cheaply. Duplicates are counted from stg_posthog__repeated_event_uuids, not by reading
    stg_posthog__events. -#}
with

source as (

    select * from {{ beton.input_relation('events') }}
    where {{ beton.input_team_filter('events') }}

),

input_facts as (

    select
        count(*) as input_rows,
        {%- for column in ['uuid', 'event', 'distinct_id', 'timestamp'] %}
        cast(sum(case when {{ beton.input_column('events', column) }} is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as null_{{ column }}_rows,
        {%- endfor %}
        cast(sum(case when {{ beton.input_column('events', 'uuid') }} is null
            or {{ beton.input_column('events', 'event') }} is null
            or {{ beton.input_column('events', 'distinct_id') }} is null
            or {{ beton.input_column('events', 'timestamp') }} is null then 1 else 0 end) as {{ dbt.type_bigint() }}) as null_key_rows

    from source

),

-- every row of a repeated uuid but the one kept is a duplicate (stg_posthog__events keeps one)
duplicates as (

    select cast(coalesce(sum(row_count - 1), 0) as {{ dbt.type_bigint() }}) as duplicate_rows
    from {{ ref('beton', 'beton_stg_posthog__repeated_event_uuids') }}

),

final as (

    select
        cast(input_facts.input_rows as {{ dbt.type_bigint() }}) as input_rows,
        coalesce(input_facts.null_uuid_rows, 0) as null_uuid_rows,
        coalesce(input_facts.null_event_rows, 0) as null_event_rows,
        coalesce(input_facts.null_distinct_id_rows, 0) as null_distinct_id_rows,
        coalesce(input_facts.null_timestamp_rows, 0) as null_timestamp_rows,
        coalesce(input_facts.null_key_rows, 0) as null_key_rows,
        duplicates.duplicate_rows as duplicate_rows,
        cast(input_facts.input_rows - coalesce(input_facts.null_key_rows, 0) - duplicates.duplicate_rows as {{ dbt.type_bigint() }}) as staged_events

    from input_facts
    cross join duplicates

)

select * from final
