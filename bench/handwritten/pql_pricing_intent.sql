-- PQL: Buying Intent (rules/pql_pricing_intent.yml), written by hand from docs/rules.md.
-- Users with >= 3 buying-intent events of >= 2 kinds in the last 14 days, last one <= 7 days ago.
with

identities as (
    select distinct_id, min(person_id) as person_id
    from {raw}.person_distinct_id
    group by distinct_id
),

window_events as (
    select
        coalesce(identities.person_id, events.distinct_id) as user_id,
        events.event,
        events.timestamp
    from {raw}.events as events
    left join identities on identities.distinct_id = events.distinct_id
    where events.uuid is not null and events.event is not null and events.distinct_id is not null
        and events.timestamp <= {as_of}
        and cast(events.timestamp as date) > cast({as_of} as date) - 14
        and events.event in ('viewed_pricing_page', 'started_checkout', 'requested_demo', 'contacted_sales', 'viewed_enterprise_features')
),

per_user as (
    select
        user_id,
        count(*) as event_count,
        count(distinct event) as distinct_events,
        count(distinct cast(timestamp as date)) as active_days,
        max(timestamp) as last_seen,
        date_diff('day', cast(max(timestamp) as date), cast({as_of} as date)) as days_since_last_event
    from window_events
    group by user_id
),

-- fit (docs/rules.md, "Fit"): the person's properties and their account's. A user's account:
-- the one the person's company_domain names, else the account most of their events link to
accounts as (
    select account_id, lower(trim(domain)) as domain, segment, properties
    from {raw}.accounts
),

persons as (
    select id as person_id, any_value(properties) as properties
    from {raw}.persons
    group by id
),

event_accounts as (
    select
        coalesce(identities.person_id, events.distinct_id) as user_id,
        accounts.account_id,
        count(*) as n
    from {raw}.events as events
    inner join accounts on accounts.domain = lower(trim(json_extract_string(events.properties, '$.company_domain')))
    left join identities on identities.distinct_id = events.distinct_id
    where events.uuid is not null and events.event is not null and events.distinct_id is not null and events.timestamp is not null
    group by all
),

user_accounts as (
    select
        per_user.user_id,
        coalesce(
            (select min(account_id) from accounts
             where accounts.domain = lower(trim(json_extract_string(persons.properties, '$.company_domain')))),
            (select account_id from event_accounts where event_accounts.user_id = per_user.user_id
             order by n desc, account_id limit 1)
        ) as account_id,
        persons.properties as person_properties
    from per_user
    left join persons on persons.person_id = per_user.user_id
),

fit as (
    select
        user_accounts.user_id,
        (case when accounts.segment in ('Mid-Market', 'Enterprise') then 4 else 0 end)
        + (case when try_cast(json_extract_string(accounts.properties, '$.employees') as double) >= 200 then 2 else 0 end)
        + (case when regexp_matches(json_extract_string(person_properties, '$.job_title'), '(?i)(head|director|vp|chief|founder|cto)') then 3 else 0 end)
        + (case when json_extract_string(person_properties, '$.email') is null then -3 else 0 end) as score_fit
    from user_accounts
    left join accounts on accounts.account_id = user_accounts.account_id
),

scored as (
    select
        per_user.*,
        2.0 * ln(1 + event_count) + 1.0 * active_days - 0.5 * days_since_last_event + fit.score_fit as score
    from per_user
    inner join fit using (user_id)
    where event_count >= 3 and distinct_events >= 2 and days_since_last_event <= 7
)

select
    row_number() over (order by score desc, user_id) as rank,
    user_id as entity_id,
    score,
    event_count, distinct_events, active_days, days_since_last_event, last_seen
from scored
