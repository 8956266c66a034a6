{{ config(alias='dim_accounts', order_by=['account_id']) }}
{#- One row per account: CRM attributes, usage over the 30 days to as_of, and the rules it
    matched (new_rules: those new since the rule's last run) — the table BI tools and
    `beton plays` start from. -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

accounts as (

    select * from {{ ref('beton', 'beton_stg_posthog__accounts') }}

),

recent_activity as (

    {{ beton.window_activity_sql(30, beton.activity_relations()) | indent(4) }}

),

usage as (

    select
        account_id,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as events_30d,
        count(distinct user_id) as active_users_30d,
        count(distinct activity_date) as active_days_30d,
        max(last_at) as last_seen

    from recent_activity
    where account_id is not null
    group by account_id

),

account_findings as (

    select
        account_id,
        {{ dbt.listagg('rule_key', "', '", "order by rule_key") }} as rules_matched,
        count(*) as findings,
        max(score) as best_score

    from {{ ref('beton', 'insp_findings') }}
    where level = 'account'
    group by account_id

),

new_findings as (

    -- new since the last run: the rules whose punch list has the account at this run and did
    -- not at the rule's run before on the same input (none at a rule's first run)
    select
        entity_id as account_id,
        {{ dbt.listagg('rule_key', "', '", "order by rule_key") }} as new_rules

    from {{ ref('beton', 'insp_finding_changes') }}
    where level = 'account'
        and change = 'entered'
        and as_of = {{ as_of }}
        and previous_as_of is not null
    group by entity_id

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
        coalesce(usage.events_30d, 0) as events_30d,
        coalesce(usage.active_users_30d, 0) as active_users_30d,
        coalesce(usage.active_days_30d, 0) as active_days_30d,
        usage.last_seen as last_seen,
        coalesce(account_findings.findings, 0) as account_findings,
        account_findings.rules_matched as rules_matched,
        new_findings.new_rules as new_rules,
        account_findings.best_score as best_score,
        {{ as_of }} as as_of

    from accounts
    left join usage
        on accounts.account_id = usage.account_id
    left join account_findings
        on accounts.account_id = account_findings.account_id
    left join new_findings
        on accounts.account_id = new_findings.account_id

)

select * from final
