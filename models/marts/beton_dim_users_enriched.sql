{{ config(alias='dim_users_enriched', order_by=['user_id']) }}
{#- One row per user: dim_users plus the person enrichment written by `beton enrich`
    (seniority, department, buying role). Before `beton enrich` has ever run the enrichment
    staging model is empty: the enrichment columns are then null and is_enriched is false.
    Enrichment columns are cast to their contract types (_marts__enriched.yml), so they are the
    same before and after the first enrich on every engine. -#}
{%- set string = dbt.type_string() %}
with

users as (

    select * from {{ ref('beton', 'beton_dim_users') }}

),

people as (

    select
        user_id,
        provider,
        seniority,
        department,
        buying_role

    from {{ ref('beton', 'beton_stg_enrichment__users') }}

),

final as (

    select
        users.user_id as user_id,
        users.is_person as is_person,
        users.email as email,
        users.name as name,
        users.job_title as job_title,
        users.account_id as account_id,
        users.created_at as created_at,
        users.events_30d as events_30d,
        users.distinct_events_30d as distinct_events_30d,
        users.active_days_30d as active_days_30d,
        users.last_seen as last_seen,
        users.rules_matched as rules_matched,
        users.new_rules as new_rules,
        users.best_score as best_score,
        users.as_of as as_of,
        {{ beton.to_boolean('people.provider is not null') }} as is_enriched,
        {{ beton.cast_nullable('people.provider', string) }} as enrichment_provider,
        {{ beton.cast_nullable('people.seniority', string) }} as seniority,
        {{ beton.cast_nullable('people.department', string) }} as department,
        {{ beton.cast_nullable('people.buying_role', string) }} as buying_role

    from users
    left join people
        on users.user_id = people.user_id

)

select * from final
