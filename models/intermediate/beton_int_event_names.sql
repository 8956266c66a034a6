{{ config(alias='int_event_names', order_by=['event_name']) }}
{#- Every event name in the rollup with a dense index (0, 1, … in name order): rules count
    distinct events as bits of these indexes (beton.bitmap_distinct_count). Rebuilt each run;
    the indexes only need to agree within one run. -#}
with

names as (

    select distinct event_name from {{ ref('beton', 'beton_int_daily_activity') }}

),

final as (

    select
        event_name,
        cast(row_number() over (order by event_name) - 1 as {{ dbt.type_int() }}) as name_index

    from names

)

select * from final
