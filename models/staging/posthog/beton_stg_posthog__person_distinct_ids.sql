{{ config(alias='stg_posthog__person_distinct_ids') }}
with

source as (

    select * from {{ beton.input_relation('person_distinct_id') }}
    where {{ beton.input_team_filter('person_distinct_id') }}

),
{%- if beton.input_is_versioned() %}

latest as (

    {{ beton.latest_versions('source', 'person_distinct_id', 'distinct_id') }}

),
{%- endif %}

renamed as (

    select
        -- nullable casts: ClickHouse's DDL allows NULL ids (a plain cast to String fails on them); dropped below
        {{ beton.cast_nullable(beton.input_column('person_distinct_id', 'distinct_id'), dbt.type_string()) }} as mapped_distinct_id,
        {{ beton.cast_nullable(beton.input_column('person_distinct_id', 'person_id'), dbt.type_string()) }} as mapped_person_id

    from {{ 'latest' if beton.input_is_versioned() else 'source' }}

),

{#- a distinct id mapped to several persons resolves to the smallest person id -#}
final as (

    select
        {{ beton.assume_not_null('mapped_distinct_id') }} as distinct_id,
        {{ beton.assume_not_null('min(mapped_person_id)') }} as person_id

    from renamed
    where mapped_distinct_id is not null
        and mapped_person_id is not null
    group by mapped_distinct_id

)

select * from final
