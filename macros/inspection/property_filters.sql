{#- One event property filter -> a boolean SQL expression (docs/rules.md, "Event property filters").
    f = {key, op, value: {type, value}} | {key, op, values: [{type, value}, ...]} | {key, op}, as
    normalised (beton_runner/rules/normalise.py); every value reaches the SQL through a literal
    macro (string_literal, number_literal). -#}
{% macro property_filter_sql(f, text=none) -%}
    {#- text: the value's text expression (fit conditions on a column); default the event property -#}
    {%- set text = text or beton.json_text('properties', f['key']) -%}
    {%- set op = f['op'] -%}
    {%- if op == 'eq' -%}
        {{ beton.typed_equals_sql(text, f['value']) }}
    {%- elif op == 'neq' -%}
        not coalesce({{ beton.typed_equals_sql(text, f['value']) }}, false)
    {%- elif op == 'in' -%}
        ({% for v in f['values'] %}{{ ' or ' if not loop.first }}{{ beton.typed_equals_sql(text, v) }}{% endfor %})
    {%- elif op == 'not_in' -%}
        not coalesce(({% for v in f['values'] %}{{ ' or ' if not loop.first }}{{ beton.typed_equals_sql(text, v) }}{% endfor %}), false)
    {%- elif op == 'contains' -%}
        {{ text }} is not null and {{ beton.text_contains(text, beton.string_literal(f['value']['value'] | string)) }}
    {%- elif op == 'regex' -%}
        {{ text }} is not null and {{ beton.regex_matches(text, beton.string_literal(f['value']['value'] | string)) }}
    {%- elif op in ('gt', 'gte', 'lt', 'lte') -%}
        {{ beton.safe_to_double(text) }} {{ {'gt': '>', 'gte': '>=', 'lt': '<', 'lte': '<='}[op] }} {{ beton.number_literal(f['value']['value']) }}
    {%- elif op == 'is_set' -%}
        {{ text }} is not null
    {%- elif op == 'is_not_set' -%}
        {{ text }} is null
    {%- endif -%}
{%- endmacro %}


{#- Typed equality: numbers compare numerically, strings and booleans as text. -#}
{% macro typed_equals_sql(text, typed) -%}
    {%- if typed['type'] == 'number' -%}
        {{ beton.safe_to_double(text) }} = {{ beton.number_literal(typed['value']) }}
    {%- else -%}
        {{ text }} = {{ beton.string_literal(typed['value'] | string) }}
    {%- endif -%}
{%- endmacro %}
