{#- Rule format 2: signals, nested logic (match), decay, and the score breakdown with its `why`
    (docs/rules.md, "Signals, nested logic and decay"). render_inspection calls these; a rule
    without signals, match or decay compiles to the terms of format 1, and the score is their sum
    in the same order (so the same number, bit for bit). -#}


{#- The refs of a rule's signals with property filters (their filtered rollups, or the rule's own
    when the filter is the same): signal name -> relation. -#}
{% macro signal_relations(rule) -%}
    {%- set found = {} -%}
    {%- for signal in rule['signals'] if signal['rollup'] -%}
        {%- do found.update({signal['name']: ref(model.package_name, signal['rollup'])}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- The rule's punch-list columns: its level's (beton.punch_list_columns()), the placeholder of
    the signal terms (source 'signals') written out as one score_signal_<name> per signal. -#}
{% macro rule_columns(rule) -%}
    {%- set columns = [] -%}
    {%- for column in beton.punch_list_columns()[rule['level']] -%}
        {%- if column['source'] == 'signals' -%}
            {%- for signal in rule['signals'] -%}
                {%- do columns.append({'name': 'score_signal_' ~ signal['name'], 'source': 'metric', 'type': 'double'}) -%}
            {%- endfor -%}
        {%- else -%}
            {%- do columns.append(column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}


{#- 0.5^(d / half_life) for rows of `date_column`, d whole UTC days before the as_of date. -#}
{% macro decay_factor(date_column, half_life) -%}
power(0.5, {{ beton.days_between(date_column, beton.date_literal(beton.as_of_date_text())) }} / {{ beton.number_literal(half_life) }})
{%- endmacro %}


{#- The rule's matching events, decayed (an entity_metrics column), when the rule has decay. -#}
{% macro decayed_event_count_sql(rule) -%}
sum(event_count * {{ beton.decay_factor('activity_date', rule['decay']['half_life_days']) }})
{%- endmacro %}


{#- The CTEs that count each signal per entity (signal_activity, signal_metrics), ending with a
    comma; nothing when the rule has no signals. Signals without property filters read the
    window's activity from the shared daily rollup once, for all of them (only their event
    names); each signal with property filters reads its filtered rollup. Rows are tagged with
    the signal that reads them ('' for the shared rows). -#}
{% macro signal_ctes(rule, relations) -%}
    {%- set signals = rule['signals'] -%}
    {%- if signals -%}
    {%- set is_account = rule['level'] == 'account' -%}
    {%- set entity = 'account_id' if is_account else 'user_id' -%}
    {%- set bigint = dbt.type_bigint() -%}
    {%- set double = beton.type_double() -%}
    {%- set shared = signals | selectattr('rollup', 'none') | list -%}
    {%- set filtered = signals | rejectattr('rollup', 'none') | list -%}
    {%- set shared_names = [] -%}
    {%- for signal in shared -%}
        {%- do shared_names.extend(signal['event_names']) -%}
    {%- endfor -%}
    {%- set every_event = shared | rejectattr('event_names') | list | length > 0 -%}
-- the signals' events in their windows, per day, {{ rule['level'] }} and event name: signals without
-- property filters from the daily rollup (once for all of them), the others from their filtered rollups
signal_activity as (
    {%- if shared %}

    select
        '' as signal_rows,
        {{ entity }},
        activity_date,
        event_name,
        event_count
    from (
        {{ beton.window_activity_sql(shared | map(attribute='window_days') | max, relations) | indent(8) }}
    ) as window_activity
    {%- if not every_event %}
    where event_name in ({{ beton.string_list(shared_names | unique | list) }})
    {%- endif %}
    {%- endif %}
    {%- for signal in filtered %}
    {%- set signal_relations = {} -%}
    {%- do signal_relations.update(relations) -%}
    {%- do signal_relations.update({'filtered': relations['signals'][signal['name']]}) %}
    {{- '\n\n    union all' if shared or not loop.first }}

    select
        {{ beton.string_literal(signal['name']) }} as signal_rows,
        {{ entity }},
        activity_date,
        event_name,
        event_count
    from (
        {{ beton.filtered_activity_sql(signal, signal['window_days'], signal_relations) | indent(8) }}
    ) as {{ signal['name'] }}_activity
    {%- endfor %}

),

-- per {{ rule['level'] }}: each signal's events (count_<signal>) and their decayed sum (decayed_<signal>)
signal_metrics as (

    select
        {{ entity }} as entity_id,
        {%- for signal in signals %}
        {%- set rows = beton.signal_rows_predicate(signal) %}
        cast(sum(case when {{ rows }} then event_count else 0 end) as {{ bigint }}) as count_{{ signal['name'] }},
        {%- if signal['half_life_days'] is not none %}
        sum(case when {{ rows }} then event_count * {{ beton.decay_factor('activity_date', signal['half_life_days']) }} else 0 end) as decayed_{{ signal['name'] }}
        {%- else %}
        cast(sum(case when {{ rows }} then event_count else 0 end) as {{ double }}) as decayed_{{ signal['name'] }}
        {%- endif %}
        {{- ',' if not loop.last }}
        {%- endfor %}

    from signal_activity
    {%- if is_account %}
    where account_id is not null
    {%- endif %}
    group by {{ entity }}

),
    {%- endif %}
{%- endmacro %}


{#- The signal_activity rows that are one signal's events: its tag, its event names (shared
    rows) and its window. -#}
{% macro signal_rows_predicate(signal) -%}
    {%- set tests = ["signal_rows = " ~ beton.string_literal('' if signal['rollup'] is none else signal['name'])] -%}
    {%- if signal['rollup'] is none and signal['event_names'] -%}
        {%- do tests.append("event_name in (" ~ beton.string_list(signal['event_names']) ~ ")") -%}
    {%- endif -%}
    {%- do tests.append("activity_date > " ~ beton.date_literal(beton.as_of_date_text(signal['window_days']))) -%}
    {{ return(tests | join(' and ')) }}
{%- endmacro %}


{#- Literals of a list of strings, comma-separated. -#}
{% macro string_list(values) -%}
{% for value in values %}{{ ', ' if not loop.first }}{{ beton.string_literal(value) }}{% endfor %}
{%- endmacro %}


{#- The score terms (docs/rules.md, "Score" and "Signals"), over `measured` joined to
    signal_metrics: one `expression as name` per term, in the order they are summed. -#}
{% macro score_terms(rule) -%}
    {%- set double = beton.type_double() -%}
    {%- set weights = rule['weights'] -%}
    {%- set events = 'decayed_event_count' if rule['decay'] else 'event_count' -%}
    {%- set terms = [
        (beton.number_literal(weights['event_count']) ~ ' * ' ~ beton.ln('1 + ' ~ events), 'score_event_count'),
        (beton.number_literal(weights['active_days']) ~ ' * active_days', 'score_active_days'),
        (beton.number_literal(weights['recency']) ~ ' * days_since_last_event', 'score_recency'),
    ] -%}
    {%- for signal in rule['signals'] -%}
        {%- set points = beton.number_literal(signal['weight']) ~ ' * decayed_' ~ signal['name'] -%}
        {%- if signal['max_points'] is not none -%}
            {%- set cap = beton.number_literal(signal['max_points']) -%}
            {%- set points = 'greatest(least(' ~ points ~ ', ' ~ cap ~ '), -' ~ cap ~ ')' -%}
        {%- endif -%}
        {%- do terms.append(('case when ' ~ beton.signal_met_sql(signal) ~ ' then ' ~ points ~ ' else 0 end', 'score_signal_' ~ signal['name'])) -%}
    {%- endfor -%}
    {%- do terms.append(('fit_points' if rule['fit'] else '0', 'score_fit')) -%}
    {%- set out = [] -%}
    {%- for expression, name in terms -%}
        {%- do out.append('cast(' ~ expression ~ ' as ' ~ double ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro %}


{#- The score: the terms' sum, left to right (score_terms' order). -#}
{% macro score_sum(rule) -%}
score_event_count + score_active_days + score_recency
{%- for signal in rule['signals'] %} + score_signal_{{ signal['name'] }}{% endfor %} + score_fit
{%- endmacro %}


{% macro signal_met_sql(signal) -%}
count_{{ signal['name'] }} >= {{ signal['min_count'] }}
{%- endmacro %}


{% macro signals_by_name(rule) -%}
    {%- set found = {} -%}
    {%- for signal in rule['signals'] -%}
        {%- do found.update({signal['name']: signal}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}


{#- A match node (normalised: all / any / not / signal / threshold) as one predicate, each
    level of nesting on lines of its own, indented. -#}
{% macro match_sql(node, signals, depth=0) -%}
    {%- set pad = '    ' * (depth + 1) -%}
    {%- set close = '    ' * depth -%}
    {%- if 'all' in node or 'any' in node -%}
        {%- set joiner = 'and' if 'all' in node else 'or' -%}
        {%- set parts = [] -%}
        {%- for child in (node['all'] if 'all' in node else node['any']) -%}
            {%- do parts.append(beton.match_sql(child, signals, depth + 1)) -%}
        {%- endfor -%}
({{ '\n' ~ pad }}{{ parts | join('\n' ~ pad ~ joiner ~ ' ') }}{{ '\n' ~ close }})
    {%- elif 'not' in node -%}
not {{ beton.match_sql({'all': [node['not']]}, signals, depth) }}
    {%- elif 'signal' in node -%}
{{ beton.signal_met_sql(signals[node['signal']]) }}
    {%- else -%}
{{ beton.threshold_sql(node['threshold'], node['value']) }}
    {%- endif -%}
{%- endmacro %}


{#- The threshold nodes of a match tree, depth first, as (threshold, value) pairs. -#}
{% macro match_thresholds(node, found) -%}
    {%- if 'all' in node or 'any' in node -%}
        {%- for child in (node['all'] if 'all' in node else node['any']) -%}
            {%- do beton.match_thresholds(child, found) -%}
        {%- endfor -%}
    {%- elif 'not' in node -%}
        {%- do beton.match_thresholds(node['not'], found) -%}
    {%- elif 'threshold' in node and (node['threshold'], node['value']) not in found -%}
        {%- do found.append((node['threshold'], node['value'])) -%}
    {%- endif -%}
    {{ return(found) }}
{%- endmacro %}


{#- `why` (docs/rules.md, "Score breakdown and why"): JSON text of every threshold (conditions',
    then match's) and every signal with its value, built from literals and whole numbers only, so
    both engines write the same text. -#}
{% macro why_sql(rule) -%}
    {%- set string = dbt.type_string() -%}
    {%- set metrics = {
        'min_event_count': 'event_count', 'min_distinct_events': 'distinct_events', 'min_active_days': 'active_days',
        'max_days_since_last_event': 'days_since_last_event', 'min_days_since_last_event': 'days_since_last_event',
        'min_active_users': 'active_users', 'min_account_events': 'account_events',
    } -%}
    {%- set thresholds = rule['conditions'].items() | list -%}
    {%- if rule['match'] -%}
        {%- for pair in beton.match_thresholds(rule['match'], []) if pair not in thresholds -%}
            {%- do thresholds.append(pair) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set parts = ["'{\"conditions\":['"] -%}
    {%- for threshold, value in thresholds -%}
        {%- do parts.append("'" ~ (',' if not loop.first else '') ~ '{"condition":"' ~ threshold ~ '","threshold":' ~ value ~ ',"value":' ~ "'") -%}
        {%- do parts.append('cast(' ~ metrics[threshold] ~ ' as ' ~ string ~ ')') -%}
        {%- do parts.append("',\"met\":'") -%}
        {%- do parts.append("case when " ~ beton.threshold_sql(threshold, value) ~ " then 'true' else 'false' end") -%}
        {%- do parts.append("'}'") -%}
    {%- endfor -%}
    {%- do parts.append("'],\"signals\":['") -%}
    {%- for signal in rule['signals'] -%}
        {%- do parts.append("'" ~ (',' if not loop.first else '') ~ '{"signal":"' ~ signal['name'] ~ '","count":' ~ "'") -%}
        {%- do parts.append('cast(count_' ~ signal['name'] ~ ' as ' ~ string ~ ')') -%}
        {%- do parts.append("'," ~ '"min_count":' ~ signal['min_count'] ~ ',"met":' ~ "'") -%}
        {%- do parts.append("case when " ~ beton.signal_met_sql(signal) ~ " then 'true' else 'false' end") -%}
        {%- do parts.append("'}'") -%}
    {%- endfor -%}
    {%- do parts.append("']}'") -%}
    {{ return(dbt.concat(parts)) }}
{%- endmacro %}
