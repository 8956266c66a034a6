{{ config(alias='stg_enrichment__accounts') }}
{#- Company intel from `beton enrich`, one row per enriched account. Empty, with these columns,
    until the first `beton enrich` (which rebuilds this view). -#}
with

source as (

    {{ beton.optional_source('beton_enrichment', 'account_enrichment', {
        'account_id': dbt.type_string(),
        'domain': dbt.type_string(),
        'provider': dbt.type_string(),
        'industry': dbt.type_string(),
        'employee_band': dbt.type_string(),
        'employees': dbt.type_bigint(),
        'revenue_band': dbt.type_string(),
        'annual_revenue': beton.type_double(),
        'hq_country': dbt.type_string(),
        'funding_stage': dbt.type_string(),
        'founded_year': dbt.type_bigint(),
        'description': dbt.type_string(),
        'linkedin_url': dbt.type_string(),
    }) }}

)

select * from source
