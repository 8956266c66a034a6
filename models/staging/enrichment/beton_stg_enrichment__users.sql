{{ config(alias='stg_enrichment__users') }}
{#- Person intel from `beton enrich`, one row per enriched person. Empty, with these columns,
    until the first `beton enrich` (which rebuilds this view). -#}
with

source as (

    {{ beton.optional_source('beton_enrichment', 'user_enrichment', {
        'user_id': dbt.type_string(),
        'account_id': dbt.type_string(),
        'email': dbt.type_string(),
        'provider': dbt.type_string(),
        'seniority': dbt.type_string(),
        'department': dbt.type_string(),
        'buying_role': dbt.type_string(),
    }) }}

)

select * from source
