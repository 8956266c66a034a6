{{ config(alias='stg_posthog__accounts') }}
with

source as (

    select * from {{ beton.input_relation('accounts') }}

),

renamed as (

    select
        cast({{ beton.input_column('accounts', 'account_id') }} as {{ dbt.type_string() }}) as account_id,
        {{ beton.cast_nullable(beton.input_column('accounts', 'name'), dbt.type_string()) }} as name,
        {{ beton.cast_nullable(beton.input_column('accounts', 'domain'), dbt.type_string()) }} as domain,
        {{ beton.cast_nullable(beton.input_column('accounts', 'arr'), beton.type_double()) }} as arr,
        {{ beton.cast_nullable(beton.input_column('accounts', 'segment'), dbt.type_string()) }} as segment,
        {{ beton.cast_nullable(beton.input_column('accounts', 'owner_email'), dbt.type_string()) }} as owner_email,
        {{ beton.json_object_or_empty(beton.input_column('accounts', 'properties')) }} as properties

    from source

),

final as (

    select
        account_id,
        name,
        domain,
        arr,
        segment,
        owner_email,
        properties,
        {{ beton.json_text('properties', 'industry') }} as industry,
        {{ beton.safe_to_double(beton.json_text('properties', 'employees')) }} as employees,
        {{ beton.json_text('properties', 'country') }} as country,
        lower(trim({{ beton.cast_nullable(beton.account_link_column(), dbt.type_string()) }})) as account_key

    from renamed

)

select * from final
