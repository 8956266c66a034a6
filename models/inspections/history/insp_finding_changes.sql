{{ config(order_by=['as_of', 'rule_key', 'change', 'entity_id']) }}
{#- Per run, per rule, per entity: did it enter the punch list, leave it, or stay on it?
    Computed from the whole history (insp_rule_runs, insp_finding_history) on every build, so it
    is always consistent with it; the history is one row per finding per run, small next to the
    events.

    A rule's runs are numbered per input (input_fingerprint) in as_of order; a run is compared
    with the one before it on the same input. At a rule's first run every finding entered.
    first_entered_at: when the entity's current stay on the list began (for an exit: the stay
    that ended). days_on_list: whole UTC days from first_entered_at to the last run it was on
    the list (this run; for an exit, the run before). Scores, ranks and metrics are this run's;
    for an exit, the last run's. name, email and domain are the entity's current attributes. -#}
{%- set rank = adapter.quote('rank') %}

with

runs as (

    select
        as_of,
        rule_key,
        rule_name,
        level,
        input_fingerprint,
        row_number() over (partition by rule_key, input_fingerprint order by as_of) as run_number

    from {{ ref('beton', 'insp_rule_runs') }}

),

paired_runs as (

    select
        runs.as_of as as_of,
        previous.as_of as previous_as_of,
        runs.rule_key as rule_key,
        runs.rule_name as rule_name,
        runs.level as level,
        runs.input_fingerprint as input_fingerprint

    from runs
    left join runs as previous
        on previous.rule_key = runs.rule_key
        and previous.input_fingerprint = runs.input_fingerprint
        and previous.run_number = runs.run_number - 1

),

history as (

    select * from {{ ref('beton', 'insp_finding_history') }}

),

on_list as (

    -- entered or stayed: on the list at this run
    select
        paired_runs.as_of as as_of,
        paired_runs.previous_as_of as previous_as_of,
        paired_runs.rule_key as rule_key,
        paired_runs.rule_name as rule_name,
        paired_runs.level as level,
        paired_runs.input_fingerprint as input_fingerprint,
        now.entity_id as entity_id,
        case when before.entity_id is null then 'entered' else 'stayed' end as change,
        now.score as score,
        before.score as previous_score,
        now.{{ rank }} as {{ rank }},
        before.{{ rank }} as previous_rank,
        now.entity_name as entity_name,
        now.account_id as account_id,
        now.event_count as event_count,
        now.active_days as active_days,
        now.active_users as active_users,
        now.days_since_last_event as days_since_last_event,
        now.last_seen as last_seen

    from paired_runs
    inner join history as now
        on now.rule_key = paired_runs.rule_key
        and now.input_fingerprint = paired_runs.input_fingerprint
        and now.as_of = paired_runs.as_of
    left join history as before
        on before.rule_key = paired_runs.rule_key
        and before.input_fingerprint = paired_runs.input_fingerprint
        and before.as_of = paired_runs.previous_as_of
        and before.entity_id = now.entity_id

),

exited as (

    -- on the list at the run before, not at this one
    select
        paired_runs.as_of as as_of,
        paired_runs.previous_as_of as previous_as_of,
        paired_runs.rule_key as rule_key,
        paired_runs.rule_name as rule_name,
        paired_runs.level as level,
        paired_runs.input_fingerprint as input_fingerprint,
        before.entity_id as entity_id,
        'exited' as change,
        {{ beton.cast_nullable('null', beton.type_double()) }} as score,
        before.score as previous_score,
        {{ beton.cast_nullable('null', dbt.type_bigint()) }} as {{ rank }},
        before.{{ rank }} as previous_rank,
        before.entity_name as entity_name,
        before.account_id as account_id,
        before.event_count as event_count,
        before.active_days as active_days,
        before.active_users as active_users,
        before.days_since_last_event as days_since_last_event,
        before.last_seen as last_seen

    from paired_runs
    inner join history as before
        on before.rule_key = paired_runs.rule_key
        and before.input_fingerprint = paired_runs.input_fingerprint
        and before.as_of = paired_runs.previous_as_of
    left join history as now
        on now.rule_key = paired_runs.rule_key
        and now.input_fingerprint = paired_runs.input_fingerprint
        and now.as_of = paired_runs.as_of
        and now.entity_id = before.entity_id
    where now.entity_id is null

),

changes as (

    select * from on_list
    union all
    select * from exited

),

stays as (

    select
        changes.*,
        max(case when change = 'entered' then as_of end) over (
            partition by rule_key, input_fingerprint, entity_id
            order by as_of
            rows between unbounded preceding and current row
        ) as first_entered_at

    from changes

),

users as (

    select * from {{ ref('beton', 'beton_int_users') }}

),

accounts as (

    select * from {{ ref('beton', 'beton_stg_posthog__accounts') }}

)

select
    {{ dbt.concat([
        'stays.rule_key', "':'", 'stays.entity_id', "'@'",
        beton.timestamp_text('stays.as_of'),
    ]) }} as change_id,
    stays.as_of as as_of,
    stays.previous_as_of as previous_as_of,
    stays.rule_key as rule_key,
    stays.rule_name as rule_name,
    stays.level as level,
    stays.entity_id as entity_id,
    stays.change as change,
    stays.score as score,
    stays.previous_score as previous_score,
    stays.{{ rank }} as {{ rank }},
    stays.previous_rank as previous_rank,
    stays.first_entered_at as first_entered_at,
    {{ beton.days_between(
        beton.to_date('stays.first_entered_at'),
        beton.to_date("case when stays.change = 'exited' then stays.previous_as_of else stays.as_of end"),
    ) }} as days_on_list,
    case when stays.level = 'user' then users.name else accounts.name end as name,
    case when stays.level = 'user' then users.email end as email,
    accounts.domain as domain,
    stays.account_id as account_id,
    stays.event_count as event_count,
    stays.active_days as active_days,
    stays.active_users as active_users,
    stays.days_since_last_event as days_since_last_event,
    stays.last_seen as last_seen,
    stays.input_fingerprint as input_fingerprint

from stays
left join users
    on stays.level = 'user'
    and users.user_id = stays.entity_id
left join accounts
    on accounts.account_id = stays.account_id
