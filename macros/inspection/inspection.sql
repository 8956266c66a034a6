{#- The rule -> SQL compiler. A generated model (models/inspections/rules/insp_<key>.sql) sets
    `rule` to the normalised form `beton rules compile` wrote from rules/<key>.yml and calls
    inspection_model(rule). That form is stated once, in beton_runner/rules/normalise.py; the
    macros trust it and check only its format number, here. Semantics: docs/rules.md. -#}

{#- The rule format these macros read (beton_runner/rules/normalise.py: FORMAT). -#}
{% macro rule_format() -%}
    {{ return(2) }}
{%- endmacro %}


{% macro inspection_model(rule) -%}
    {#- refs are declared unconditionally so the DAG is right at parse time -#}
    {%- set relations = beton.activity_relations() -%}
    {%- do relations.update({'users': ref('beton', 'beton_int_users'), 'accounts': ref('beton', 'beton_stg_posthog__accounts')}) -%}
    {%- if rule is not mapping or rule.get('format') != beton.rule_format() -%}
        {{ exceptions.raise_compiler_error(
            "model " ~ this ~ " was not written by this version of `beton rules compile` (rule format "
            ~ (rule.get('format') if rule is mapping else 'none') ~ ", these macros read format "
            ~ beton.rule_format() ~ "); run `beton rules compile`") }}
    {%- endif -%}
    {%- if rule['property_filters'] -%}
        {#- the rule's filtered rollup is generated beside its model: in this package, or in the
            host project a rule was compiled into (`beton rules compile --project-dir HOST`) -#}
        {%- do relations.update({'filtered': ref(model.package_name, 'beton_int_filtered_activity__' ~ rule['key'])}) -%}
    {%- endif -%}
    {%- do relations.update({'signals': beton.signal_relations(rule)}) -%}
    {{ return(beton.render_inspection(rule, relations)) }}
{%- endmacro %}


{% macro render_inspection(rule, relations) -%}
    {%- set is_account = rule['level'] == 'account' -%}
    {%- set entity = 'account_id' if is_account else 'user_id' -%}
    {%- set window_days = rule['time_window_days'] -%}
    {%- set bigint = dbt.type_bigint() -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set as_of_date = beton.date_literal(beton.as_of_date_text()) -%}
    {%- set name_bits = beton.event_name_bitmap_size(relations) -%}
    {%- set event_predicates = beton.event_predicates(rule) -%}
    {%- set thresholds = beton.threshold_predicates(rule['conditions']) -%}
    {%- set day_bits = window_days <= beton.day_bitmap_max_days() -%}
    {#- The window's activity is written out where it is read (not shared as one CTE), so the
        rule's event filter reaches the scan. -#}
-- Inspection rule {{ rule['key'] }}: {{ modules.re.sub('[\\x00-\\x1f\\x7f]+', ' ', rule['name']) }}
-- level: {{ rule['level'] }}; window: the {{ window_days }} UTC calendar day(s) ending on {{ beton.as_of_date_text() }}, up to as_of
-- as_of: {{ beton.as_of_text() }} (UTC); semantics: docs/rules.md

with
{% if rule['property_filters'] %}
-- the window's events that pass the rule's filters, per day, user, account and event name:
-- whole days from the rule's own filtered rollup, the as_of day from the events up to as_of
matching_activity as (

    {{ beton.filtered_activity_sql(rule, window_days, relations) | indent(4) }}

),
{%- else %}
-- the window's activity per day, user, account and event name (whole days from the daily
-- rollup, the as_of day from the events up to as_of){{ ', only the rule\'s events' if event_predicates }}
matching_activity as (

    select *
    from (
        {{ beton.window_activity_sql(window_days, relations) | indent(8) }}
    ) as window_activity
    {%- for predicate in event_predicates %}
    {{ 'where' if loop.first else '    and' }} {{ predicate }}
    {%- endfor %}

),
{%- endif %}

-- per {{ rule['level'] }}: events, active days, distinct event names and the last event. Distinct
-- event names and active days are counted as bits (each name's index in int_event_names, each
-- day's offset from as_of; beton.bitmap_distinct_count): exact, without a distinct aggregate
-- over every row
entity_metrics as (

    select
        {{ entity }} as entity_id,
        cast(sum(event_count) as {{ bigint }}) as event_count,
        {{ beton.bitmap_distinct_count('name_index', name_bits) | indent(8) }} as indexed_events,
        {%- if day_bits %}
        {{ beton.bitmap_distinct_count(beton.days_between('activity_date', as_of_date), window_days) | indent(8) }} as active_days,
        {%- else %}
        count(distinct activity_date) as active_days,
        {%- endif %}
        {%- if is_account %}
        count(distinct user_id) as active_users,
        {%- endif %}
        {%- if rule['decay'] %}
        {{ beton.decayed_event_count_sql(rule) }} as decayed_event_count,
        {%- endif %}
        max(last_at) as last_seen,
        max(activity_date) as last_seen_date

    from matching_activity
    {%- if is_account %}
    where account_id is not null
    {%- endif %}
    group by {{ entity }}

),

-- per {{ rule['level'] }}: distinct event names the bits above do not cover (no index below
-- {{ name_bits }}; normally none), counted over just their rows, so distinct_events stays exact
other_events as (

    select
        {{ entity }} as entity_id,
        count(distinct event_name) as other_events

    from matching_activity
    where (name_index is null or name_index >= {{ name_bits }})
    {%- if is_account %}
        and account_id is not null
    {%- endif %}
    group by {{ entity }}

),
{%- if is_account %}

-- per account: all of its events in the window, matching or not, summed per account key first
-- and then mapped to accounts (int_account_keys has one row per key), with no identity resolved
account_totals as (

    select
        account_keys.account_id as entity_id,
        cast(sum(key_events.event_count) as {{ bigint }}) as account_events

    from (
        {{ beton.window_account_events_sql(window_days, relations) | indent(8) }}
    ) as key_events
    inner join {{ relations['account_keys'] }} as account_keys
        on key_events.account_key = account_keys.account_key
    group by account_keys.account_id

),
{%- endif %}

-- per {{ rule['level'] }}: every metric the conditions and the score read
measured as (

    select
        entity_metrics.entity_id as entity_id,
        entity_metrics.event_count as event_count,
        cast(entity_metrics.indexed_events + coalesce(other_events.other_events, 0) as {{ bigint }}) as distinct_events,
        entity_metrics.active_days as active_days,
        {%- if rule['decay'] %}
        entity_metrics.decayed_event_count as decayed_event_count,
        {%- endif %}
        {%- if is_account %}
        entity_metrics.active_users as active_users,
        account_totals.account_events as account_events,
        {%- endif %}
        entity_metrics.last_seen as last_seen,
        {{ beton.days_between('entity_metrics.last_seen_date', as_of_date) }} as days_since_last_event

    from entity_metrics
    left join other_events
        on entity_metrics.entity_id = other_events.entity_id
    {%- if is_account %}
    inner join account_totals
        on entity_metrics.entity_id = account_totals.entity_id
    {%- endif %}

),
{{- beton.fit_cte(rule, relations) }}

{{ beton.signal_ctes(rule, relations) }}

-- per {{ rule['level'] }}: the metrics{{ ', each signal\'s count and decayed count' if rule['signals'] }}{{ ', the fit points' if rule['fit'] }} and every score term (macros/inspection/signals.sql)
scored as (

    select
        *,
        {%- for term in beton.score_terms(rule) %}
        {{ term }}{{ ',' if not loop.last }}
        {%- endfor %}

    from (
        {%- if rule['fit'] %}
        {#- the fit points joined one level up: ClickHouse renames a `measured.*` column whose
            name another joined relation also has once a select joins three relations -#}
        select
            with_signals.*,
            fit_scores.score_fit as fit_points
        from (
        {%- endif %}
        select
            measured.*
            {%- for signal in rule['signals'] %},
            coalesce(signal_metrics.count_{{ signal['name'] }}, 0) as count_{{ signal['name'] }},
            coalesce(signal_metrics.decayed_{{ signal['name'] }}, 0) as decayed_{{ signal['name'] }}
            {%- endfor %}
        from measured
        {%- if rule['signals'] %}
        left join signal_metrics
            on measured.entity_id = signal_metrics.entity_id
        {%- endif %}
        {%- if rule['fit'] %}
        ) as with_signals
        inner join fit_scores
            on with_signals.entity_id = fit_scores.fit_entity_id
        {%- endif %}
    ) as signalled

),

-- the {{ rule['level'] }}s that meet every threshold of the rule{{ ' and its match' if rule['match'] }}, with their score (the sum of the terms) and why
passing as (

    select
        *,
        {{ beton.score_sum(rule) }} as score,
        {{ beton.why_sql(rule) }} as why

    from scored
    {%- for predicate in thresholds %}
    {{ 'where' if loop.first else '    and' }} {{ predicate }}
    {%- endfor %}
    {%- if rule['match'] %}
    {{ 'where' if not thresholds else '    and' }} {{ beton.match_sql(rule['match'], beton.signals_by_name(rule)) | indent(4) }}
    {%- endif %}

),

-- their position in the punch list: best score first, ties broken by {{ entity }}
ranked as (

    select
        *,
        {%- for column in beton.tier_window_columns(rule) %}
        {{ column }},
        {%- endfor %}
        row_number() over (order by score desc, entity_id asc) as finding_rank

    from passing

),

-- the punch list: the columns of beton_runner/columns.py, with the {{ rule['level'] }}'s attributes
final as (

    select
        {%- for column in beton.rule_columns(rule) %}
        {%- set alias = adapter.quote(column['name']) if column['name'] == 'rank' else column['name'] %}
        {%- if column['source'] == 'rank' %}
        ranked.finding_rank as {{ alias }}
        {%- elif column['source'] == 'entity' %}
        ranked.entity_id as {{ alias }}
        {%- elif column['source'] == 'attribute' %}
        attributes.{{ column['name'] }} as {{ alias }}
        {%- elif column['source'] == 'as_of' %}
        {{ as_of }} as {{ alias }}
        {%- elif column['source'] == 'tier' %}
        {{ beton.tier_sql(rule) | indent(8) }} as {{ alias }}
        {%- elif column['source'] == 'grade' %}
        {{ beton.grade_sql(rule) }} as {{ alias }}
        {%- else %}
        ranked.{{ column['name'] }} as {{ alias }}
        {%- endif %}
        {{- ',' if not loop.last }}
        {%- endfor %}

    from ranked
    left join {{ relations['accounts'] if is_account else relations['users'] }} as attributes
        on ranked.entity_id = attributes.{{ entity }}

)

select * from final
{%- endmacro %}
