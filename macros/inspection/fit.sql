{#- Fit (docs/rules.md, "Fit"): points for who the entity is, from its attributes. The rule is
    the normalised form (beton_runner/rules/normalise.py): rule['fit'] = [{points, when: [attribute
    filter, ...]}], each attribute filter naming its table ('account', 'enrichment', 'person'),
    column, property key (json columns) and type ('text', 'number', 'json'). -#}

{#- The tables a rule's fit reads, as {'account': bool, 'enrichment': bool, 'person': bool}. -#}
{% macro fit_tables(rule) -%}
    {%- set tables = {'account': false, 'enrichment': false, 'person': false} -%}
    {%- for item in rule.get('fit') or [] -%}
        {%- for f in item['when'] -%}
            {%- do tables.update({f['table']: true}) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(tables) }}
{%- endmacro %}


{#- One fit condition -> a boolean SQL expression over the fit_<table> aliases. Text and
    property values follow the event property filters exactly (docs/rules.md, "Property
    values"); a number column compares as a number. A missing row (no account, not enriched)
    reads as not set. -#}
{% macro fit_condition_sql(f) -%}
    {%- set column = 'fit_' ~ f['table'] ~ '.' ~ f['column'] -%}
    {%- if f['type'] == 'json' -%}
        {#- '{}' for a missing row: ClickHouse's JSON functions refuse a null document -#}
        {{ beton.property_filter_sql(f, beton.json_text('coalesce(' ~ column ~ ", '{}')", f['key'])) }}
    {%- elif f['type'] == 'text' -%}
        {{ beton.property_filter_sql(f, column) }}
    {%- else -%}
        {%- set op = f['op'] -%}
        {%- set number = beton.cast_nullable(column, beton.type_double()) -%}
        {%- set values = f['values'] if op in ('in', 'not_in') else [f.get('value')] -%}
        {%- set equals -%}
({% for v in values %}{{ ' or ' if not loop.first }}{{ number }} = {{ beton.number_literal(v['value']) if v else 'null' }}{% endfor %})
        {%- endset -%}
        {%- if op in ('eq', 'in') -%}
            {{ equals }}
        {%- elif op in ('neq', 'not_in') -%}
            not coalesce({{ equals }}, false)
        {%- elif op in ('gt', 'gte', 'lt', 'lte') -%}
            {{ number }} {{ {'gt': '>', 'gte': '>=', 'lt': '<', 'lte': '<='}[op] }} {{ beton.number_literal(f['value']['value']) }}
        {%- elif op == 'is_set' -%}
            {{ column }} is not null
        {%- elif op == 'is_not_set' -%}
            {{ column }} is null
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#- The fit_scores CTE (nothing when the rule has no fit): per entity of `measured`, score_fit =
    the sum of the points of the fit items whose every condition holds. relations: the
    inspection's relations (users, accounts); the persons and the enrichment are referenced here,
    only by a rule whose fit reads them (the model is rendered at parse time, so dbt sees the ref). -#}
{% macro fit_cte(rule, relations) -%}
    {%- if rule.get('fit') -%}
    {%- set is_account = rule['level'] == 'account' -%}
    {%- set tables = beton.fit_tables(rule) -%}
    {%- if tables['person'] -%}
        {%- do relations.update({'persons': ref('beton', 'beton_stg_posthog__persons')}) -%}
    {%- endif -%}
    {%- if tables['enrichment'] -%}
        {%- do relations.update({'enrichment': ref('beton', 'beton_stg_enrichment__accounts')}) -%}
    {%- endif -%}
    {%- set account_id = 'measured.entity_id' if is_account else 'fit_user.account_id' %}

-- per {{ rule['level'] }}: the fit score, from {{ 'its' if is_account else 'the person\'s and their account\'s' }} attributes
fit_scores as (

    select
        measured.entity_id as fit_entity_id,
        cast(0
        {%- for item in rule['fit'] %}
            + case when {% for f in item['when'] %}{{ '\n                and ' if not loop.first }}({{ beton.fit_condition_sql(f) }}){% endfor %}
                then {{ beton.number_literal(item['points']) }} else 0 end
        {%- endfor %}
        as {{ beton.type_double() }}) as score_fit

    from measured
    {%- if not is_account and (tables['account'] or tables['enrichment']) %}
    left join {{ relations['users'] }} as fit_user
        on measured.entity_id = fit_user.user_id
    {%- endif %}
    {%- if tables['person'] %}
    left join {{ relations['persons'] }} as fit_person
        on measured.entity_id = fit_person.person_id
    {%- endif %}
    {%- if tables['account'] %}
    left join {{ relations['accounts'] }} as fit_account
        on {{ account_id }} = fit_account.account_id
    {%- endif %}
    {%- if tables['enrichment'] %}
    left join {{ relations['enrichment'] }} as fit_enrichment
        on {{ account_id }} = fit_enrichment.account_id
    {%- endif %}

),
    {%- endif -%}
{%- endmacro %}
