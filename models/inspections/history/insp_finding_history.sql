{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=false,
    on_schema_change='append_new_columns',
    order_by=['as_of', 'rule_key', 'entity_id'],
    pre_hook="{{ beton.delete_this_as_of() }}",
) }}
{#- Every run's findings, kept: one row per (as_of, rule, entity). A run appends the findings
    of insp_findings that are at its as_of; a run at an as_of already here replaces that as_of's
    rows (the pre-hook). Never rebuilt from scratch (full_refresh=false: `dbt build
    --full-refresh` keeps it), because the past cannot be recomputed from rules that have since
    changed. input_fingerprint says which input the run read (mock data, a source); changes are
    only computed between runs on the same input. -#}
select
    as_of,
    rule_key,
    rule_name,
    level,
    entity_id,
    entity_name,
    account_id,
    {{ adapter.quote('rank') }},
    score,
    event_count,
    distinct_events,
    active_days,
    active_users,
    account_events,
    days_since_last_event,
    last_seen,
    cast({{ beton.string_literal(beton.input_fingerprint()) }} as {{ dbt.type_string() }}) as input_fingerprint,
    computed_at

from {{ ref('beton', 'insp_findings') }}
where as_of = {{ beton.timestamp_literal(beton.as_of_text()) }}
