{{ config(alias='dim_accounts_enriched', order_by=['account_id']) }}
{#- One row per account: dim_accounts plus the CRM enrichment written by `beton enrich`
    (company intel, intent signals, tech stack). Before `beton enrich` has ever run the
    enrichment staging models are empty: every enrichment column is then null and is_enriched
    is false. Columns are listed and aliased one by one: ClickHouse names `accounts.*` columns
    `accounts.x` when a joined CTE has a column of the same name. -#}
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
