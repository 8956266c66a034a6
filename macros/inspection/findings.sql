{#- The unified findings table: every rule's punch list in one shape for BI tools, in the
    columns of beton_runner/columns.py (FINDINGS_COLUMNS, through beton.findings_columns()).
    rules: [{key, name, level, relation, signals}, ...], one per rule, relation a ref to insp_<key>,
    signals the names of its signals (score_signals is the sum of their terms). -#}
{% macro findings_union(rules) -%}
    {%- set users = ref('beton', 'beton_int_users') -%}
    {%- set string = dbt.type_string() -%}
    {%- set types = {'bigint': dbt.type_bigint(), 'double': beton.type_double(), 'string': string} -%}
    {%- set computed_at = beton.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) -%}
    {%- set levels = beton.punch_list_columns() -%}
    {%- if rules | length == 0 %}
-- no rules: an empty table of the right shape
select
    {%- for column in beton.findings_columns() %}
    {%- set type = types[column['type']] if column['type'] else dbt.type_timestamp() %}
    {{ beton.cast_nullable('null', type) }} as {{ adapter.quote(column['name']) if column['name'] == 'rank' else column['name'] }}
    {{- ',' if not loop.last }}
    {%- endfor %}
where 1 = 0
    {%- endif %}
    {%- for rule in rules %}
    {%- set is_account = rule['level'] == 'account' %}
    {%- set entity = 'findings.account_id' if is_account else 'findings.user_id' %}
    {%- set own_columns = levels[rule['level']] | map(attribute='name') | list %}

-- {{ rule['key'] }} ({{ rule['level'] }} level)
select
    {%- for column in beton.findings_columns() %}
    {%- set name = column['name'] %}
    {%- set alias = adapter.quote(name) if name == 'rank' else name %}
    {%- set type = types[column['type']] if column['type'] else none %}
    {%- if name == 'finding_id' %}
    {{ dbt.concat([beton.string_literal(rule['key'] ~ ':'), 'cast(' ~ entity ~ ' as ' ~ string ~ ')']) }} as {{ alias }}
    {%- elif name in ('rule_key', 'rule_name', 'level') %}
    cast({{ beton.string_literal(rule[{'rule_key': 'key', 'rule_name': 'name', 'level': 'level'}[name]]) }} as {{ string }}) as {{ alias }}
    {%- elif name == 'entity_id' %}
    cast({{ entity }} as {{ string }}) as {{ alias }}
    {%- elif name == 'entity_name' %}
    {{ beton.cast_nullable('findings.name' if is_account else 'findings.email', string) }} as {{ alias }}
    {%- elif name == 'account_id' %}
    {{ beton.cast_nullable('findings.account_id' if is_account else 'users.account_id', string) }} as {{ alias }}
    {%- elif name == 'computed_at' %}
    {{ computed_at }} as {{ alias }}
    {%- elif name == 'score_signals' %}
    cast({% for signal in rule.get('signals', []) %}findings.score_signal_{{ signal }} + {% endfor %}0 as {{ type }}) as {{ alias }}
    {%- elif name not in own_columns %}
    {{ beton.cast_nullable('null', type) }} as {{ alias }}
    {%- elif type is none %}
    findings.{{ name }} as {{ alias }}
    {%- elif column['levels'] | length == 1 or column.get('nullable') %}
    {{ beton.cast_nullable('findings.' ~ alias, type) }} as {{ alias }}
    {%- else %}
    cast(findings.{{ alias }} as {{ type }}) as {{ alias }}
    {%- endif %}
    {{- ',' if not loop.last }}
    {%- endfor %}
from {{ rule['relation'] }} as findings
    {%- if not is_account %}
left join {{ users }} as users
    on findings.user_id = users.user_id
    {%- endif %}
    {%- if not loop.last %}

union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
