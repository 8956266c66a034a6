{{ config(alias='int_account_keys', order_by=['account_key']) }}
{#- Which account each account-link key names. Two accounts claiming one key: the smallest
    account id wins, so an event never counts twice. -#}
with

accounts as (

    select * from {{ ref('beton', 'beton_stg_posthog__accounts') }}

),

final as (

    select
        {{ beton.assume_not_null('account_key') }} as account_key,
        min(account_id) as account_id

    from accounts
    where account_key is not null
        and account_key != ''
    group by {{ beton.assume_not_null('account_key') }}

)

select * from final
