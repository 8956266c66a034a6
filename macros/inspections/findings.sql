{#- The unified findings table: every rule's punch list in one shape for BI tools.
    rules: [{key, name, level}, ...] in the same order as relations (refs to insp_<key>). -#}
{% macro findings_union(rules, relations) -%}
    {%- set users = ref('int_users') -%}
    {%- set string = dbt.type_string() -%}
    {%- set bigint = dbt.type_bigint() -%}
    {%- set float = beton.type_double() -%}
    {%- set computed_at = beton.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) -%}
    {%- if rules | length != relations | length -%}
        {{ exceptions.raise_compiler_error("findings_union: " ~ rules | length ~ " rules but " ~ relations | length ~ " relations; regenerate with `beton rules compile`") }}
    {%- endif -%}
    {%- if rules | length == 0 %}
{#- no rules: an empty table of the right shape -#}
select
    {{ beton.cast_nullable('null', string) }} as finding_id,
    {{ beton.cast_nullable('null', string) }} as rule_key,
    {{ beton.cast_nullable('null', string) }} as rule_name,
    {{ beton.cast_nullable('null', string) }} as level,
    {{ beton.cast_nullable('null', string) }} as entity_id,
    {{ beton.cast_nullable('null', string) }} as entity_name,
    {{ beton.cast_nullable('null', string) }} as account_id,
    {{ beton.cast_nullable('null', bigint) }} as {{ adapter.quote('rank') }},
    {{ beton.cast_nullable('null', float) }} as score,
    {{ beton.cast_nullable('null', bigint) }} as event_count,
    {{ beton.cast_nullable('null', bigint) }} as distinct_events,
    {{ beton.cast_nullable('null', bigint) }} as active_days,
    {{ beton.cast_nullable('null', bigint) }} as active_users,
    {{ beton.cast_nullable('null', bigint) }} as account_events,
    {{ beton.cast_nullable('null', bigint) }} as days_since_last_event,
    {{ beton.cast_nullable('null', dbt.type_timestamp()) }} as last_seen,
    {{ beton.cast_nullable('null', dbt.type_timestamp()) }} as as_of,
    {{ beton.cast_nullable('null', dbt.type_timestamp()) }} as computed_at
where 1 = 0
    {%- endif -%}
    {%- for rule in rules %}
    {%- set relation = relations[loop.index0] %}
    {%- set is_account = rule['level'] == 'account' %}
    {%- set entity = 'findings.account_id' if is_account else 'findings.user_id' %}
select
    {{ dbt.concat([beton.string_literal(rule['key'] ~ ':'), 'cast(' ~ entity ~ ' as ' ~ string ~ ')']) }} as finding_id,
    cast({{ beton.string_literal(rule['key']) }} as {{ string }}) as rule_key,
    cast({{ beton.string_literal(rule['name']) }} as {{ string }}) as rule_name,
    cast({{ beton.string_literal(rule['level']) }} as {{ string }}) as level,
    cast({{ entity }} as {{ string }}) as entity_id,
    {%- if is_account %}
    {{ beton.cast_nullable('findings.name', string) }} as entity_name,
    {{ beton.cast_nullable('findings.account_id', string) }} as account_id,
    {%- else %}
    {{ beton.cast_nullable('findings.email', string) }} as entity_name,
    {{ beton.cast_nullable('users.account_id', string) }} as account_id,
    {%- endif %}
    cast(findings.{{ adapter.quote('rank') }} as {{ bigint }}) as {{ adapter.quote('rank') }},
    cast(findings.score as {{ float }}) as score,
    cast(findings.event_count as {{ bigint }}) as event_count,
    cast(findings.distinct_events as {{ bigint }}) as distinct_events,
    cast(findings.active_days as {{ bigint }}) as active_days,
    {%- if is_account %}
    {{ beton.cast_nullable('findings.active_users', bigint) }} as active_users,
    {{ beton.cast_nullable('findings.account_events', bigint) }} as account_events,
    {%- else %}
    {{ beton.cast_nullable('null', bigint) }} as active_users,
    {{ beton.cast_nullable('null', bigint) }} as account_events,
    {%- endif %}
    cast(findings.days_since_last_event as {{ bigint }}) as days_since_last_event,
    findings.last_seen as last_seen,
    findings.as_of as as_of,
    {{ computed_at }} as computed_at
from {{ relation }} as findings
    {%- if not is_account %}
left join {{ users }} as users
    on findings.user_id = users.user_id
    {%- endif %}
    {%- if not loop.last %}

union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
