{{ config(alias='int_users', order_by=['user_id']) }}
{#- One row per user: every person, and every distinct id that resolves to no person (it
    stands alone as its own user). A user's account is the one their person's link property
    names, else the account most of their events link to. -#}
with

persons as (

    select * from {{ ref('beton', 'beton_stg_posthog__persons') }}

),

account_keys as (

    select * from {{ ref('beton', 'beton_int_account_keys') }}

),

{#- Each (distinct id, account key) pair's events over all history, aggregated before it is
    resolved: the resolution then joins one row per pair instead of every rollup row. -#}
pairs as (

    select
        distinct_id,
        account_key,
        sum(event_count) as event_count

    from {{ ref('beton', 'beton_int_daily_activity') }}
    group by distinct_id, account_key

),

resolved_pairs as (

    select
        {{ beton.resolved_user_id('pairs') }} as user_id,
        {{ beton.resolved_account_id() }} as account_id,
        pairs.event_count as event_count

    from pairs
    {{ beton.resolve_joins('pairs', beton.identity_relations()) | indent(4) }}

),

event_users as (

    select distinct user_id

    from resolved_pairs

),

event_accounts as (

    select
        user_id,
        account_id,
        sum(event_count) as event_count

    from resolved_pairs
    where account_id is not null
    group by user_id, account_id

),

main_event_account as (

    select
        user_id,
        account_id

    from (
        select
            user_id,
            account_id,
            row_number() over (partition by user_id order by event_count desc, account_id) as position
        from event_accounts
    ) as ranked
    where position = 1

),

all_users as (

    select person_id as user_id from persons
    union all
    select user_id from event_users where user_id not in (select person_id from persons)

),

final as (

    select
        all_users.user_id as user_id,
        persons.person_id is not null as is_person,
        persons.email as email,
        persons.name as name,
        persons.job_title as job_title,
        persons.created_at as created_at,
        coalesce(person_accounts.account_id, main_event_account.account_id) as account_id

    from all_users
    left join persons
        on all_users.user_id = persons.person_id
    left join account_keys as person_accounts
        on persons.account_key = person_accounts.account_key
    left join main_event_account
        on all_users.user_id = main_event_account.user_id

)

select * from final
