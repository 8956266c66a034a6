{{ config(alias='dim_accounts_enriched', order_by=['account_id']) }}
{#- One row per account: dim_accounts plus the CRM enrichment written by `beton enrich`
    (company intel, intent signals, tech stack). Before `beton enrich` has ever run the
    enrichment staging models are empty: every enrichment column is then null and is_enriched
    is false. Columns are listed and aliased one by one: ClickHouse names `accounts.*` columns
    `accounts.x` when a joined CTE has a column of the same name. Every enrichment column is cast
    to its contract type (_marts__enriched.yml): a left join's columns, or an aggregate over an
    empty staging table, would otherwise change type on ClickHouse once enrichment data exists. -#}
{%- set string = dbt.type_string() -%}
{%- set bigint = dbt.type_bigint() -%}
{%- set double = beton.type_double() %}
with

accounts as (

    select * from {{ ref('beton', 'beton_dim_accounts') }}

),

intel as (

    select
        account_id,
        provider,
        industry,
        employee_band,
        employees,
        revenue_band,
        annual_revenue,
        hq_country,
        funding_stage,
        founded_year,
        description,
        linkedin_url

    from {{ ref('beton', 'beton_stg_enrichment__accounts') }}

),

intent as (

    select
        account_id,
        {{ dbt.listagg('topic', "'; '", 'order by position') }} as intent_topics,
        count(*) as intent_signals,
        max(strength) as top_intent_strength,
        min(recency_days) as latest_intent_days

    from {{ ref('beton', 'beton_stg_enrichment__account_intent_signals') }}
    group by account_id

),

tech as (

    select
        account_id,
        {{ dbt.listagg('product', "', '", 'order by position') }} as tech_stack,
        count(*) as tech_stack_size

    from {{ ref('beton', 'beton_stg_enrichment__account_tech_stack') }}
    group by account_id

),

final as (

    select
        accounts.account_id as account_id,
        accounts.name as name,
        accounts.domain as domain,
        accounts.arr as arr,
        accounts.segment as segment,
        accounts.owner_email as owner_email,
        accounts.industry as industry,
        accounts.employees as employees,
        accounts.country as country,
        accounts.events_30d as events_30d,
        accounts.active_users_30d as active_users_30d,
        accounts.active_days_30d as active_days_30d,
        accounts.last_seen as last_seen,
        accounts.account_findings as account_findings,
        accounts.rules_matched as rules_matched,
        accounts.new_rules as new_rules,
        accounts.best_score as best_score,
        accounts.as_of as as_of,
        {{ beton.to_boolean('intel.provider is not null') }} as is_enriched,
        {{ beton.cast_nullable('intel.provider', string) }} as enrichment_provider,
        {{ beton.cast_nullable('intel.industry', string) }} as enriched_industry,
        {{ beton.cast_nullable('intel.employee_band', string) }} as employee_band,
        {{ beton.cast_nullable('intel.employees', bigint) }} as enriched_employees,
        {{ beton.cast_nullable('intel.revenue_band', string) }} as revenue_band,
        {{ beton.cast_nullable('intel.annual_revenue', double) }} as annual_revenue,
        {{ beton.cast_nullable('intel.hq_country', string) }} as hq_country,
        {{ beton.cast_nullable('intel.funding_stage', string) }} as funding_stage,
        {{ beton.cast_nullable('intel.founded_year', bigint) }} as founded_year,
        {{ beton.cast_nullable('intel.description', string) }} as company_description,
        {{ beton.cast_nullable('intel.linkedin_url', string) }} as linkedin_url,
        {{ beton.cast_nullable('intent.intent_topics', string) }} as intent_topics,
        cast(coalesce(intent.intent_signals, 0) as {{ bigint }}) as intent_signals,
        {{ beton.cast_nullable('intent.top_intent_strength', bigint) }} as top_intent_strength,
        {{ beton.cast_nullable('intent.latest_intent_days', bigint) }} as latest_intent_days,
        {{ beton.cast_nullable('tech.tech_stack', string) }} as tech_stack,
        cast(coalesce(tech.tech_stack_size, 0) as {{ bigint }}) as tech_stack_size

    from accounts
    left join intel
        on accounts.account_id = intel.account_id
    left join intent
        on accounts.account_id = intent.account_id
    left join tech
        on accounts.account_id = tech.account_id

)

select * from final
