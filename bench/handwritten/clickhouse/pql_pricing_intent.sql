-- PQL: Buying Intent (rules/pql_pricing_intent.yml), written by hand for ClickHouse from docs/rules.md.
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
    where events.timestamp <= {as_of}
        and toDate(events.timestamp) > toDate({as_of}) - 14
        and events.event in ('viewed_pricing_page', 'started_checkout', 'requested_demo', 'contacted_sales', 'viewed_enterprise_features')
),

per_user as (
    select
        user_id,
        count() as event_count,
        uniqExact(event) as distinct_events,
        uniqExact(toDate(timestamp)) as active_days,
        max(timestamp) as last_seen,
        dateDiff('day', toDate(max(timestamp)), toDate({as_of})) as days_since_last_event
    from window_events
    group by user_id
),

-- fit (docs/rules.md, "Fit"): the person's properties and their account's. A user's account:
-- the one the person's company_domain names, else the account most of their events link to
-- (ties: the smallest account id); an empty domain links nothing
accounts as (
    select account_id, lower(trim(domain)) as domain, segment, properties
    from {raw}.accounts
),

linkable_accounts as (
    select account_id, domain
    from accounts
    where domain != ''
),

persons as (
    select id as person_id, any(properties) as properties
    from {raw}.persons
    group by id
),

person_accounts as (
    select persons.person_id as person_id, min(linkable_accounts.account_id) as account_id
    from persons
    inner join linkable_accounts
        on linkable_accounts.domain = lower(trim(JSONExtractString(persons.properties, 'company_domain')))
    group by persons.person_id
),

event_accounts as (
    select
        coalesce(identities.person_id, events.distinct_id) as user_id,
        linkable_accounts.account_id,
        count() as n
    from {raw}.events as events
    inner join linkable_accounts
        on linkable_accounts.domain = lower(trim(JSONExtractString(events.properties, 'company_domain')))
    left join identities on identities.distinct_id = events.distinct_id
    group by user_id, linkable_accounts.account_id
),

top_event_accounts as (
    -- most events first, then the smallest account id
    select user_id, argMin(account_id, (-n, account_id)) as account_id
    from event_accounts
    group by user_id
),

user_accounts as (
    select
        per_user.user_id as user_id,
        coalesce(person_accounts.account_id, top_event_accounts.account_id) as account_id,
        persons.properties as person_properties
    from per_user
    left join persons on persons.person_id = per_user.user_id
    left join person_accounts on person_accounts.person_id = per_user.user_id
    left join top_event_accounts on top_event_accounts.user_id = per_user.user_id
),

fit as (
    select
        user_accounts.user_id as user_id,
        if(accounts.segment in ('Mid-Market', 'Enterprise'), 4, 0)
        + if(toFloat64OrNull(JSONExtractString(accounts.properties, 'employees')) >= 200, 2, 0)
        + if(match(JSONExtractString(user_accounts.person_properties, 'job_title'), '(?i)(head|director|vp|chief|founder|cto)'), 3, 0)
        -- email: {is_not_set: true}: no person, no key, or JSON null (all null here; '' is set)
        + if(JSONExtract(user_accounts.person_properties, 'email', 'Nullable(String)') is null, -3, 0) as score_fit
    from user_accounts
    left join accounts on accounts.account_id = user_accounts.account_id
),

scored as (
    select
        per_user.*,
        2.0 * log(1 + event_count) + 1.0 * active_days - 0.5 * days_since_last_event + fit.score_fit as score
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
settings join_use_nulls = 1
