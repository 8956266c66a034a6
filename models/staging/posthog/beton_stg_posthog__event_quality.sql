{{ config(alias='stg_posthog__event_quality', materialized='table') }}
{#- One row: what stg_posthog__events left out of the events input, so a bad load is seen
    rather than silently dropped. A table (unlike the other staging models) because it is a
    full scan of the events: explore_data_health and `beton run` read it after every build,
    cheaply. -#}
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

staged as (

    select count(*) as staged_events from {{ ref('beton', 'beton_stg_posthog__events') }}

),

final as (

    select
        cast(input_facts.input_rows as {{ dbt.type_bigint() }}) as input_rows,
        coalesce(input_facts.null_uuid_rows, 0) as null_uuid_rows,
        coalesce(input_facts.null_event_rows, 0) as null_event_rows,
        coalesce(input_facts.null_distinct_id_rows, 0) as null_distinct_id_rows,
        coalesce(input_facts.null_timestamp_rows, 0) as null_timestamp_rows,
        coalesce(input_facts.null_key_rows, 0) as null_key_rows,
        cast(input_facts.input_rows - coalesce(input_facts.null_key_rows, 0) - staged.staged_events as {{ dbt.type_bigint() }}) as duplicate_rows,
        cast(staged.staged_events as {{ dbt.type_bigint() }}) as staged_events

    from input_facts
    cross join staged

)

select * from final
