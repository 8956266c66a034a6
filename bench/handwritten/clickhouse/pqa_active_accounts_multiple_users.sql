-- PQA: Active Accounts with Multiple Users (rules/pqa_active_accounts_multiple_users.yml), written by hand for ClickHouse from docs/rules.md.
-- Accounts with >= 3 active users and >= 50 events in the last 30 days, last one <= 7 days ago.
-- Accounts by domain: the event property company_domain equals accounts.domain (both trimmed
-- and lowercased; an empty domain links nothing, as JSONExtractString reads a missing key as '');
-- account_events counts all of the account's events in the window.
with

identities as (
    select distinct_id, min(person_id) as person_id
    from {raw}.person_distinct_id
    group by distinct_id
),

accounts as (
    select account_id, lower(trim(domain)) as domain
    from {raw}.accounts
    where lower(trim(domain)) != ''
),

window_events as (
    select
        accounts.account_id,
        coalesce(identities.person_id, events.distinct_id) as user_id,
        events.event,
        events.timestamp,
        true as is_match
    from {raw}.events as events
    inner join accounts on accounts.domain = lower(trim(JSONExtractString(events.properties, 'company_domain')))
    left join identities on identities.distinct_id = events.distinct_id
    where events.timestamp <= {as_of}
        and toDate(events.timestamp) > toDate({as_of}) - 30
),

per_account as (
    select
        account_id,
        countIf(is_match) as event_count,
        uniqExactIf(event, is_match) as distinct_events,
        uniqExactIf(toDate(timestamp), is_match) as active_days,
        uniqExactIf(user_id, is_match) as active_users,
        count() as account_events,
        maxIf(timestamp, is_match) as last_seen,
        dateDiff('day', toDate(maxIf(timestamp, is_match)), toDate({as_of})) as days_since_last_event
    from window_events
    group by account_id
),

-- fit (docs/rules.md, "Fit"): points from the account's segment, arr and properties
fit as (
    select
        account_id,
        if(segment in ('Mid-Market', 'Enterprise'), 10, 0)
        + if(toFloat64OrNull(JSONExtractString(properties, 'employees')) >= 1000, 5, 0)
        + if(arr >= 100000, 5, 0)
        + if(JSONExtractString(properties, 'industry') = 'Software', 3, 0) as score_fit
    from {raw}.accounts
)

select
    row_number() over (order by score desc, account_id) as rank,
    account_id as entity_id,
    1.0 * log(1 + event_count) + 1.0 * active_days - 1.0 * days_since_last_event + fit.score_fit as score,
    event_count, distinct_events, active_days, active_users, account_events, days_since_last_event, last_seen
from per_account
inner join fit using (account_id)
where event_count > 0 and active_users >= 3 and account_events >= 50 and days_since_last_event <= 7
settings join_use_nulls = 1
