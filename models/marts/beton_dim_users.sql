{{ config(alias='dim_users', order_by=['user_id']) }}
{#- One row per user (person, or unresolved distinct id): profile, account, usage over the 30
    days to as_of, and the user-level rules they matched (new_rules: those new since the rule's
    last run). -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

users as (

    select * from {{ ref('beton', 'beton_int_users') }}

),

recent_activity as (

    {{ beton.window_activity_sql(30, beton.activity_relations()) | indent(4) }}

),

usage as (

    select
        user_id,
        cast(sum(event_count) as {{ dbt.type_bigint() }}) as events_30d,
        count(distinct event_name) as distinct_events_30d,
        count(distinct activity_date) as active_days_30d,
        max(last_at) as last_seen

    from recent_activity
    group by user_id

),

user_findings as (

    select
        entity_id as user_id,
        {{ dbt.listagg('rule_key', "', '", "order by rule_key") }} as rules_matched,
        max(score) as best_score

    from {{ ref('beton', 'insp_findings') }}
    where level = 'user'
    group by entity_id

),

new_findings as (

    -- new since the last run: the rules whose punch list has the user at this run and did
    -- not at the rule's run before on the same input (none at a rule's first run)
    select
        entity_id as user_id,
        {{ dbt.listagg('rule_key', "', '", "order by rule_key") }} as new_rules

    from {{ ref('beton', 'insp_finding_changes') }}
    where level = 'user'
        and change = 'entered'
        and as_of = {{ as_of }}
        and previous_as_of is not null
    group by entity_id

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
        coalesce(usage.events_30d, 0) as events_30d,
        coalesce(usage.distinct_events_30d, 0) as distinct_events_30d,
        coalesce(usage.active_days_30d, 0) as active_days_30d,
        usage.last_seen as last_seen,
        user_findings.rules_matched as rules_matched,
        new_findings.new_rules as new_rules,
        user_findings.best_score as best_score,
        {{ as_of }} as as_of

    from users
    left join usage
        on users.user_id = usage.user_id
    left join user_findings
        on users.user_id = user_findings.user_id
    left join new_findings
        on users.user_id = new_findings.user_id

)

select * from final
