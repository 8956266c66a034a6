with

source as (

    select * from {{ beton.input_relation('person_distinct_id') }}

),

renamed as (

    select
        cast({{ beton.input_column('person_distinct_id', 'distinct_id') }} as {{ dbt.type_string() }}) as distinct_id,
        cast({{ beton.input_column('person_distinct_id', 'person_id') }} as {{ dbt.type_string() }}) as person_id

    from source

),

{#- a distinct id mapped to several persons resolves to the smallest person id -#}
final as (

    select
        distinct_id,
        min(person_id) as person_id

    from renamed
    where distinct_id is not null
        and person_id is not null
    group by distinct_id

)

select * from final
