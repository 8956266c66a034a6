{{ config(alias='stg_enrichment__account_intent_signals') }}
{#- Third-party intent signals from `beton enrich`, one row per account and topic. Empty, with
    these columns, until the first `beton enrich` (which rebuilds this view). -#}
with

source as (

    {{ beton.optional_source('beton_enrichment', 'account_intent_signals', {
        'account_id': dbt.type_string(),
        'position': dbt.type_bigint(),
        'topic_key': dbt.type_string(),
        'topic': dbt.type_string(),
        'category': dbt.type_string(),
        'strength': dbt.type_bigint(),
        'recency_days': dbt.type_bigint(),
    }) }}

)

select * from source
