with

source as (

    select * from {{ beton.input_relation('events') }}

),

renamed as (

    select
        cast({{ beton.input_column('events', 'uuid') }} as {{ dbt.type_string() }}) as event_uuid,
        cast({{ beton.input_column('events', 'event') }} as {{ dbt.type_string() }}) as event_name,
        cast({{ beton.input_column('events', 'distinct_id') }} as {{ dbt.type_string() }}) as distinct_id,
        {{ beton.assume_not_null(beton.to_utc_timestamp(beton.input_column('events', 'timestamp'))) }} as event_at,
        {{ beton.json_object_or_empty(beton.input_column('events', 'properties')) }} as properties,
        {{ beton.cast_nullable(beton.input_column('events', 'person_id'), dbt.type_string()) }} as event_person_id

    from source
    where {{ beton.input_column('events', 'timestamp') }} is not null
        and {{ beton.input_team_filter('events') }}

),

final as (

    select
        event_uuid,
        event_name,
        distinct_id,
        event_at,
        properties,
        event_person_id,
        lower(trim({{ beton.json_text('properties', var('beton_account_link_property', 'company_domain')) }})) as account_key

    from renamed

)

select * from final
