{{ config(alias='stg_posthog__repeated_event_uuids', materialized='table') }}
{#- The event uuids that occur on more than one input row with every key set, and on how many
    rows: normally none or a few. One pass over the events' key columns per build, so that
    stg_posthog__events (a view every rollup and rule reads, some for one day only) dedups by a
    join with this small table instead of grouping every event by uuid on each read, and
    stg_posthog__event_quality counts the duplicates without reading that view. -#}
select
    {{ beton.cast_nullable(beton.input_column('events', 'uuid'), dbt.type_string()) }} as event_uuid,
    cast(count(*) as {{ dbt.type_bigint() }}) as row_count

from {{ beton.input_relation('events') }}
where {{ beton.input_events_with_keys() }}
group by {{ beton.cast_nullable(beton.input_column('events', 'uuid'), dbt.type_string()) }}
having count(*) > 1
