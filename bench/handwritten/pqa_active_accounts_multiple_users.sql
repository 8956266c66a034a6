-- PQA: Active Accounts with Multiple Users (rules/pqa_active_accounts_multiple_users.yml), written by hand from docs/rules.md.
-- Accounts with >= 3 active users and >= 50 events in the last 30 days, last one <= 7 days ago.
-- Accounts by domain: the event property company_domain equals accounts.domain (both trimmed
-- and lowercased); account_events counts all of the account's events in the window.
with

identities as (
    select distinct_id, min(person_id) as person_id
    from {raw}.person_distinct_id
    group by distinct_id
),

accounts as (
    select account_id, lower(trim(domain)) as domain
    from {raw}.accounts
),

window_events as (
    select
        accounts.account_id,
        coalesce(identities.person_id, events.distinct_id) as user_id,
        events.event,
        events.timestamp,
        true as is_match
    from {raw}.events as events
    inner join accounts on accounts.domain = lower(trim(json_extract_string(events.properties, '$.company_domain')))
    left join identities on identities.distinct_id = events.distinct_id
    where events.uuid is not null and events.event is not null and events.distinct_id is not null
        and events.timestamp <= {as_of}
        and cast(events.timestamp as date) > cast({as_of} as date) - 30
),

per_account as (
    select
        account_id,
        count(*) filter (where is_match) as event_count,
        count(distinct event) filter (where is_match) as distinct_events,
        count(distinct cast(timestamp as date)) filter (where is_match) as active_days,
        count(distinct user_id) filter (where is_match) as active_users,
        count(*) as account_events,
        max(timestamp) filter (where is_match) as last_seen,
        date_diff('day', cast(max(timestamp) filter (where is_match) as date), cast({as_of} as date)) as days_since_last_event
    from window_events
    group by account_id
),

-- fit (docs/rules.md, "Fit"): points from the account's segment, arr and properties
fit as (
    select
        account_id,
        (case when segment in ('Mid-Market', 'Enterprise') then 10 else 0 end)
        + (case when try_cast(json_extract_string(properties, '$.employees') as double) >= 1000 then 5 else 0 end)
        + (case when arr >= 100000 then 5 else 0 end)
        + (case when json_extract_string(properties, '$.industry') = 'Software' then 3 else 0 end) as score_fit
    from {raw}.accounts
),

scored as (
    select
        per_account.*,
        1.0 * ln(1 + event_count) + 1.0 * active_days - 1.0 * days_since_last_event + fit.score_fit as score
    from per_account
    inner join fit using (account_id)
    where event_count > 0 and active_users >= 3 and account_events >= 50 and days_since_last_event <= 7
)

select
    row_number() over (order by score desc, account_id) as rank,
    account_id as entity_id,
    score,
    event_count, distinct_events, active_days, active_users, account_events, days_since_last_event, last_seen
from scored
