{#- The rules evaluated at this run's as_of, one row each (insp_rule_runs): every rule whose
    findings in insp_findings are at this as_of, and every rule with no findings at all (a rule
    with an empty punch list was evaluated too: its findings all exited). A rule whose rows are
    at another as_of was not rebuilt by this invocation (e.g. `beton run --select` of another
    rule) and is not recorded, so it cannot report false exits.
    rules: [{key, name, level}, ...], from the rule files (beton rules compile). -#}
{% macro rule_runs(rules) -%}
    {%- set as_of = beton.timestamp_literal(beton.as_of_text()) -%}
    {%- set string = dbt.type_string() %}
with

catalogue as (
    {%- if rules | length == 0 %}

    select
        cast(null as {{ string }}) as rule_key,
        cast(null as {{ string }}) as rule_name,
        cast(null as {{ string }}) as level
    where 1 = 0
    {%- endif %}
    {%- for rule in rules %}

    select
        cast({{ beton.string_literal(rule['key']) }} as {{ string }}) as rule_key,
        cast({{ beton.string_literal(rule['name']) }} as {{ string }}) as rule_name,
        cast({{ beton.string_literal(rule['level']) }} as {{ string }}) as level
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

per_rule as (

    select
        rule_key,
        count(*) as all_findings,
        sum(case when as_of = {{ as_of }} then 1 else 0 end) as findings_at_as_of

    from {{ ref('beton', 'insp_findings') }}
    group by rule_key

)

select
    {{ as_of }} as as_of,
    catalogue.rule_key as rule_key,
    catalogue.rule_name as rule_name,
    catalogue.level as level,
    cast(coalesce(per_rule.findings_at_as_of, 0) as {{ dbt.type_bigint() }}) as findings,
    cast({{ beton.string_literal(beton.input_fingerprint()) }} as {{ string }}) as input_fingerprint,
    {{ beton.timestamp_literal(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }} as computed_at

from catalogue
left join per_rule
    on catalogue.rule_key = per_rule.rule_key
where coalesce(per_rule.all_findings, 0) = 0
    or per_rule.findings_at_as_of > 0
{%- endmacro %}


{#- A history model's pre-hook: a run at an as_of already recorded replaces what was recorded
    for it (re-running the same as_of adds nothing; a rule edited and re-run at the same as_of
    leaves only the new result). Runs before the insert, in the same transaction on DuckDB. -#}
{% macro delete_this_as_of() -%}
    {%- if is_incremental() and execute -%}
        {{ beton.delete_rows(this, 'as_of = ' ~ beton.timestamp_literal(beton.as_of_text())) }}
    {%- endif -%}
{%- endmacro %}
