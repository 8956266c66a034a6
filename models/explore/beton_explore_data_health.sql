{{ config(alias='explore_data_health') }}
{#- One row of data-health facts: is the data wired correctly? Row counts of every input, the
    events' date range, input rows dropped (null keys, repeated uuids), how many events link
    to a person and to an account, and event names
    outside the standard events library. Over all loaded data, plus the explore window. -#}
{%- set days = beton.explore_days() -%}
{%- set first_day = beton.date_literal(beton.as_of_date_text(days - 1)) -%}
{%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}

with

events as (

    select * from {{ ref('beton', 'beton_int_explore_activity') }}

),

standard_events as (

    select event_name from {{ ref('beton', 'beton_standard_events') }}

),

event_facts as (

    select
        cast(coalesce(sum(events), 0) as {{ dbt.type_bigint() }}) as events,
        min(first_event_at) as first_event_at,
        max(last_event_at) as last_event_at,
        count(distinct event_date) as event_days,
        count(distinct distinct_id) as event_distinct_ids,
        count(distinct user_id) as event_users,
        count(distinct event_name) as event_names,
        cast(sum(case when is_resolved then events else 0 end) as {{ dbt.type_bigint() }}) as events_linked_to_person,
        cast(sum(case when account_id is not null then events else 0 end) as {{ dbt.type_bigint() }}) as events_linked_to_account,
        cast(sum(case when event_date >= {{ first_day }} and not is_after_as_of then events else 0 end) as {{ dbt.type_bigint() }}) as events_in_window,
        cast(sum(case when is_after_as_of then events else 0 end) as {{ dbt.type_bigint() }}) as events_after_as_of

    from events

),

unknown_facts as (

    select
        count(distinct event_name) as unknown_event_names,
        cast(coalesce(sum(events), 0) as {{ dbt.type_bigint() }}) as unknown_events

    from events
    where event_name not in (select event_name from standard_events)

),

persons as (

    select count(*) as persons from {{ ref('beton', 'beton_stg_posthog__persons') }}

),

identities as (

    select count(*) as mapped_distinct_ids from {{ ref('beton', 'beton_stg_posthog__person_distinct_ids') }}

),

accounts as (

    select count(*) as accounts from {{ ref('beton', 'beton_stg_posthog__accounts') }}

),

-- input rows the staging left out: null keys, repeated uuids
event_quality as (

    select null_key_rows, duplicate_rows from {{ ref('beton', 'beton_stg_posthog__event_quality') }}

),

library as (

    select count(*) as standard_event_names from standard_events

),

final as (

    select
        {{ as_of }} as as_of,
        cast({{ days }} as {{ dbt.type_int() }}) as window_days,
        {{ first_day }} as window_start_date,
        event_facts.events as events,
        coalesce(event_facts.events_in_window, 0) as events_in_window,
        coalesce(event_facts.events_after_as_of, 0) as events_after_as_of,
        event_quality.null_key_rows as dropped_null_key_rows,
        event_quality.duplicate_rows as dropped_duplicate_rows,
        event_facts.first_event_at as first_event_at,
        event_facts.last_event_at as last_event_at,
        event_facts.event_days as event_days,
        persons.persons as persons,
        identities.mapped_distinct_ids as mapped_distinct_ids,
        accounts.accounts as accounts,
        event_facts.event_distinct_ids as event_distinct_ids,
        event_facts.event_users as event_users,
        coalesce(event_facts.events_linked_to_person, 0) as events_linked_to_person,
        {{ beton.ratio('event_facts.events_linked_to_person', 'event_facts.events') }} as share_linked_to_person,
        coalesce(event_facts.events_linked_to_account, 0) as events_linked_to_account,
        {{ beton.ratio('event_facts.events_linked_to_account', 'event_facts.events') }} as share_linked_to_account,
        event_facts.event_names as event_names,
        library.standard_event_names as standard_event_names,
        unknown_facts.unknown_event_names as unknown_event_names,
        unknown_facts.unknown_events as unknown_events,
        {{ beton.ratio('unknown_facts.unknown_events', 'event_facts.events') }} as share_unknown_events

    from event_facts
    cross join unknown_facts
    cross join persons
    cross join identities
    cross join accounts
    cross join event_quality
    cross join library

)

select * from final
