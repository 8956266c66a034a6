{{ config(alias='stg_posthog__persons') }}
with

source as (

    select * from {{ beton.input_relation('persons') }}
    where {{ beton.input_team_filter('persons') }}

),
{%- if beton.input_is_versioned() %}

latest as (

    {{ beton.latest_versions('source', 'persons', 'id') }}

),
{%- endif %}

renamed as (

    select
        cast({{ beton.input_column('persons', 'id') }} as {{ dbt.type_string() }}) as person_id,
        {{ beton.to_utc_timestamp(beton.input_column('persons', 'created_at')) }} as created_at,
        {{ beton.json_object_or_empty(beton.input_column('persons', 'properties')) }} as properties,
        {{ beton.to_boolean(beton.input_column('persons', 'is_identified')) }} as is_identified

    from {{ 'latest' if beton.input_is_versioned() else 'source' }}

),

final as (

    select
        person_id,
        created_at,
        properties,
        is_identified,
        {{ beton.json_text('properties', 'email') }} as email,
        {{ beton.json_text('properties', 'name') }} as name,
        {{ beton.json_text('properties', 'job_title') }} as job_title,
        {{ beton.account_key('properties', for_person=true) }} as account_key

    from renamed

)

select * from final
