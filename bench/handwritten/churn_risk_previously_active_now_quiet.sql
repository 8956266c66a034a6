-- Churn Risk: Previously Active, Now Disengaged (rules/churn_risk_previously_active_now_quiet.yml), written by hand from docs/rules.md.
-- Accounts with >= 100 events in the last 90 days and none in the last 30.
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
        and cast(events.timestamp as date) > cast({as_of} as date) - 90
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
)

select
    row_number() over (order by 2.0 * ln(1 + event_count) + 0.0 * active_days + 1.0 * days_since_last_event desc, account_id) as rank,
    account_id as entity_id,
    2.0 * ln(1 + event_count) + 0.0 * active_days + 1.0 * days_since_last_event as score,
    event_count, distinct_events, active_days, active_users, account_events, days_since_last_event, last_seen
from per_account
where event_count > 0 and account_events >= 100 and days_since_last_event >= 30
