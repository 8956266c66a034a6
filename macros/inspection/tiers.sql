{#- Tiers and grade (docs/rules.md, "Tiers" and "Grade"), over the inspection's `ranked` CTE.
    The rule is the normalised form (beton_runner/rules/normalise.py): rule['tiers'] = none |
    {by: 'score' | 'percentile', levels: [{name, value}] best first, else: name | none};
    rule['grade'] = none | {fit: [thresholds], behaviour: [thresholds]}, decreasing. -#}

{#- The window columns percentile tiers read, added to `ranked` (none otherwise): the punch
    list's size, and each finding's score position (1 + the findings scoring strictly higher). -#}
{% macro tier_window_columns(rule) -%}
    {%- set columns = [] -%}
    {%- if rule.get('tiers') and rule['tiers']['by'] == 'percentile' -%}
        {%- do columns.append('count(*) over () as finding_count') -%}
        {%- do columns.append('rank() over (order by score desc) as score_position') -%}
    {%- endif -%}
    {{ return(columns) }}
{%- endmacro %}


{#- A finding's tier: the first tier (best first) it reaches, else the `else` name or null. By
    score: score >= the tier's threshold. By percentile: fewer than p% of the punch list's findings
    score strictly higher (so equal scores share a tier). -#}
{% macro tier_sql(rule) -%}
    {%- set tiers = rule.get('tiers') -%}
    {%- if not tiers -%}
        {{ beton.cast_nullable('null', dbt.type_string()) }}
    {%- else -%}
        {%- set double = beton.type_double() -%}
        {%- set expression -%}
case
            {%- for tier in tiers['levels'] %}
            {%- if tiers['by'] == 'percentile' %}
            when cast(ranked.score_position - 1 as {{ double }}) * 100 < cast(ranked.finding_count as {{ double }}) * {{ beton.number_literal(tier['value']) }} then {{ beton.string_literal(tier['name']) }}
            {%- else %}
            when ranked.score >= {{ beton.number_literal(tier['value']) }} then {{ beton.string_literal(tier['name']) }}
            {%- endif %}
            {%- endfor %}
            else {{ beton.string_literal(tiers['else']) if tiers['else'] is not none else 'null' }}
        end
        {%- endset -%}
        {{ beton.cast_nullable(expression, dbt.type_string()) }}
    {%- endif -%}
{%- endmacro %}


{#- A finding's grade: the fit letter (score_fit against grade.fit: A for the first threshold
    reached, B for the second, ...; below every one the next letter) and the behaviour number
    (score - score_fit against grade.behaviour: 1, 2, ...), e.g. 'A1'; null without a grade. -#}
{% macro grade_sql(rule) -%}
    {%- set grade = rule.get('grade') -%}
    {%- if not grade -%}
        {{ beton.cast_nullable('null', dbt.type_string()) }}
    {%- else -%}
        {%- set parts = [] -%}
        {%- for part, value, labels in [('fit', 'ranked.score_fit', 'ABCDEF'), ('behaviour', '(ranked.score - ranked.score_fit)', '123456')] -%}
            {%- set expression -%}
case{% for threshold in grade[part] %} when {{ value }} >= {{ beton.number_literal(threshold) }} then {{ beton.string_literal(labels[loop.index0]) }}{% endfor %} else {{ beton.string_literal(labels[grade[part] | length]) }} end
            {%- endset -%}
            {%- do parts.append(expression) -%}
        {%- endfor -%}
        {{ beton.cast_nullable(dbt.concat(parts), dbt.type_string()) }}
    {%- endif -%}
{%- endmacro %}
