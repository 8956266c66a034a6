{{ config(alias='explore_top_accounts') }}
{#- One row per account with events in the explore window, most used first: the accounts a
    BI tool lists as "top accounts by usage". -#}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

window_events as (

    {{ beton.explore_window_events() }}
        and account_id is not null

),

accounts as (

    select * from {{ ref('beton', 'beton_stg_posthog__accounts') }}

),

per_account as (

    select
        account_id,
        cast(sum(events) as {{ dbt.type_bigint() }}) as events,
        count(distinct user_id) as active_users,
        count(distinct event_name) as distinct_events,
        count(distinct event_date) as active_days,
        min(first_event_at) as first_seen,
        max(last_event_at) as last_seen

    from window_events
    group by account_id

),

totals as (

    select cast(coalesce(sum(events), 0) as {{ dbt.type_bigint() }}) as window_events

    from window_events

),

{#- an event's account id always comes from the accounts table: inner join -#}
final as (

    select
        row_number() over (order by per_account.events desc, per_account.account_id) as usage_rank,
        per_account.account_id as account_id,
        accounts.name as name,
        accounts.domain as domain,
        accounts.segment as segment,
        accounts.arr as arr,
        per_account.events as events,
        {{ beton.ratio('per_account.events', 'totals.window_events') }} as share_of_account_events,
        per_account.active_users as active_users,
        per_account.distinct_events as distinct_events,
        per_account.active_days as active_days,
        per_account.first_seen as first_seen,
        per_account.last_seen as last_seen,
        {{ as_of }} as as_of

    from per_account
    cross join totals
    inner join accounts
        on per_account.account_id = accounts.account_id

)

select * from final
