{{ config(order_by=['account_id']) }}
{#- One row per account: dim_accounts plus the CRM enrichment written by `beton enrich`
    (company intel, intent signals, tech stack). Builds before `beton enrich` has ever run:
    then every enrichment column is a typed null and is_enriched is false. Columns are listed
    and aliased one by one: ClickHouse names `accounts.*` columns `accounts.x` when a joined
    CTE has a column of the same name. -#}
{%- set intel_source = source('beton_enrichment', 'account_enrichment') -%}
{%- set intent_source = source('beton_enrichment', 'account_intent_signals') -%}
{%- set tech_source = source('beton_enrichment', 'account_tech_stack') -%}
{%- set intel_relation = adapter.get_relation(intel_source.database, intel_source.schema, intel_source.identifier) if execute else none -%}
{%- set intent_relation = adapter.get_relation(intent_source.database, intent_source.schema, intent_source.identifier) if execute else none -%}
{%- set tech_relation = adapter.get_relation(tech_source.database, tech_source.schema, tech_source.identifier) if execute else none -%}
{%- set text = dbt.type_string() -%}
{%- set integer = dbt.type_bigint() -%}

with

accounts as (

    select * from {{ ref('dim_accounts') }}

),

intel as (

{%- if intel_relation is not none %}

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

    from {{ intel_relation }}

{%- else %}

    select
        {{ beton.cast_nullable('null', text) }} as account_id,
        {{ beton.cast_nullable('null', text) }} as provider,
        {{ beton.cast_nullable('null', text) }} as industry,
        {{ beton.cast_nullable('null', text) }} as employee_band,
        {{ beton.cast_nullable('null', integer) }} as employees,
        {{ beton.cast_nullable('null', text) }} as revenue_band,
        {{ beton.cast_nullable('null', beton.type_double()) }} as annual_revenue,
        {{ beton.cast_nullable('null', text) }} as hq_country,
        {{ beton.cast_nullable('null', text) }} as funding_stage,
        {{ beton.cast_nullable('null', integer) }} as founded_year,
        {{ beton.cast_nullable('null', text) }} as description,
        {{ beton.cast_nullable('null', text) }} as linkedin_url
    where 1 = 0

{%- endif %}

),

intent as (

{%- if intent_relation is not none %}

    select
        account_id,
        {{ dbt.listagg('topic', "'; '", 'order by position') }} as intent_topics,
        count(*) as intent_signals,
        max(strength) as top_intent_strength,
        min(recency_days) as latest_intent_days

    from {{ intent_relation }}
    group by account_id

{%- else %}

    select
        {{ beton.cast_nullable('null', text) }} as account_id,
        {{ beton.cast_nullable('null', text) }} as intent_topics,
        {{ beton.cast_nullable('null', integer) }} as intent_signals,
        {{ beton.cast_nullable('null', integer) }} as top_intent_strength,
        {{ beton.cast_nullable('null', integer) }} as latest_intent_days
    where 1 = 0

{%- endif %}

),

tech as (

{%- if tech_relation is not none %}

    select
        account_id,
        {{ dbt.listagg('product', "', '", 'order by position') }} as tech_stack,
        count(*) as tech_stack_size

    from {{ tech_relation }}
    group by account_id

{%- else %}

    select
        {{ beton.cast_nullable('null', text) }} as account_id,
        {{ beton.cast_nullable('null', text) }} as tech_stack,
        {{ beton.cast_nullable('null', integer) }} as tech_stack_size
    where 1 = 0

{%- endif %}

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
        accounts.best_score as best_score,
        accounts.as_of as as_of,
        intel.provider is not null as is_enriched,
        intel.provider as enrichment_provider,
        intel.industry as enriched_industry,
        intel.employee_band as employee_band,
        intel.employees as enriched_employees,
        intel.revenue_band as revenue_band,
        intel.annual_revenue as annual_revenue,
        intel.hq_country as hq_country,
        intel.funding_stage as funding_stage,
        intel.founded_year as founded_year,
        intel.description as company_description,
        intel.linkedin_url as linkedin_url,
        intent.intent_topics as intent_topics,
        coalesce(intent.intent_signals, 0) as intent_signals,
        intent.top_intent_strength as top_intent_strength,
        intent.latest_intent_days as latest_intent_days,
        tech.tech_stack as tech_stack,
        coalesce(tech.tech_stack_size, 0) as tech_stack_size

    from accounts
    left join intel
        on accounts.account_id = intel.account_id
    left join intent
        on accounts.account_id = intent.account_id
    left join tech
        on accounts.account_id = tech.account_id

)

select * from final
