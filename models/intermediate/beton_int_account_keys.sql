{{ config(alias='int_account_keys', order_by=['account_key']) }}
{#- Which account each account-link key names. Two accounts claiming one key: the smallest
    account id wins, so an event never counts twice. With a group link (beton.account_group_index)
    the keys are the account ids as they are, plus, with beton_account_link_fallback, the
    property-link keys; an account's own id wins over another account's link column. -#}
{%- set group_index = beton.account_group_index() %}
with

accounts as (

    select * from {{ ref('beton', 'beton_stg_posthog__accounts') }}

),

keys as (

{%- if group_index is none %}

    select
        account_key,
        account_id

    from accounts
{%- else %}

    select
        account_id as account_key,
        account_id,
        account_id as linked_account_id

    from accounts
{%- if beton.account_link_fallback() %}

    union all

    select
        account_key,
        account_id,
        {{ beton.cast_nullable('null', dbt.type_string()) }} as linked_account_id

    from accounts
{%- endif %}
{%- endif %}

),

final as (

    select
        {{ beton.assume_not_null('account_key') }} as account_key,
        {{ 'coalesce(min(linked_account_id), min(account_id))' if group_index is not none else 'min(account_id)' }} as account_id

    from keys
    where account_key is not null
        and account_key != ''
    group by {{ beton.assume_not_null('account_key') }}

)

select * from final
