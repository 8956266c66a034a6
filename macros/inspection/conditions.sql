{#- What a rule tests, as SQL conditions (one list element per condition, so callers write
    one predicate per line). The rule is the normalised form (beton_runner/rules/normalise.py),
    trusted as is: inspection_model checked its format once. -#}

{#- The conditions an event must meet to count for the rule: one of its event names (when it
    lists any), and every property filter (docs/rules.md, "Event property filters"). Reads only
    rule['event_names'] and rule['property_filters'], so a filtered rollup passes just those. -#}
{% macro event_predicates(rule) -%}
    {%- set predicates = [] -%}
    {%- if rule['event_names'] -%}
        {%- set names -%}
event_name in ({% for name in rule['event_names'] %}{{ ', ' if not loop.first }}{{ beton.string_literal(name) }}{% endfor %})
        {%- endset -%}
        {%- do predicates.append(names) -%}
    {%- endif -%}
    {%- for property_filter in rule['property_filters'] -%}
        {%- set predicate -%}
({{ beton.property_filter_sql(property_filter) }})
        {%- endset -%}
        {%- do predicates.append(predicate) -%}
    {%- endfor -%}
    {{ return(predicates) }}
{%- endmacro %}


{#- The rule's thresholds on an entity's metrics (docs/rules.md, "Conditions"), over the
    columns of the inspection's `measured` CTE: one condition per threshold the rule sets. -#}
{% macro threshold_predicates(conditions) -%}
    {%- set predicates = [] -%}
    {%- for threshold, value in conditions.items() -%}
        {%- do predicates.append(beton.threshold_sql(threshold, value)) -%}
    {%- endfor -%}
    {{ return(predicates) }}
{%- endmacro %}


{#- One threshold on the `measured` metrics (also a leaf of `match`). -#}
{% macro threshold_sql(threshold, value) -%}
    {%- set metric, comparison = {
        'min_event_count': ('event_count', '>='),
        'min_distinct_events': ('distinct_events', '>='),
        'min_active_days': ('active_days', '>='),
        'max_days_since_last_event': ('days_since_last_event', '<='),
        'min_days_since_last_event': ('days_since_last_event', '>='),
        'min_active_users': ('active_users', '>='),
        'min_account_events': ('account_events', '>='),
    }[threshold] -%}
{{ metric }} {{ comparison }} {{ value }}
{%- endmacro %}
