{{ config(alias='stg_enrichment__account_tech_stack') }}
{#- Technographics from `beton enrich`, one row per account and product. Empty, with these
    columns, until the first `beton enrich` (which rebuilds this view). -#}
with

source as (

    {{ beton.optional_source('beton_enrichment', 'account_tech_stack', {
        'account_id': dbt.type_string(),
        'position': dbt.type_bigint(),
        'category': dbt.type_string(),
        'product': dbt.type_string(),
    }) }}

)

select * from source
