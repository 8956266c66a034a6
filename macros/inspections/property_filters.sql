{#- One event property filter -> a boolean SQL expression (docs/rules.md, "Event property filters").
    f = {key, op, value: {type, value}} or {key, op, values: [{type, value}, ...]} -#}

{% macro property_filter_sql(f) -%}
    {%- set text = beton.json_text('properties', f['key']) -%}
    {%- set op = f['op'] -%}
    {%- if op == 'eq' -%}
        {{ return(beton._equals_sql(text, f['value'])) }}
    {%- elif op == 'neq' -%}
        {{ return('not coalesce(' ~ beton._equals_sql(text, f['value']) ~ ', false)') }}
    {%- elif op in ('in', 'not_in') -%}
        {%- set alternatives = [] -%}
        {%- for v in f['values'] -%}{%- do alternatives.append(beton._equals_sql(text, v)) -%}{%- endfor -%}
        {%- set any_equal = '(' ~ alternatives | join(' or ') ~ ')' -%}
        {{ return(any_equal if op == 'in' else 'not coalesce(' ~ any_equal ~ ', false)') }}
    {%- elif op == 'contains' -%}
        {{ return(text ~ ' is not null and ' ~ beton.text_contains(text, beton.string_literal(f['value']['value'] | string))) }}
    {%- elif op == 'regex' -%}
        {{ return(text ~ ' is not null and ' ~ beton.regex_matches(text, beton.string_literal(f['value']['value'] | string))) }}
    {%- elif op in ('gt', 'gte', 'lt', 'lte') -%}
        {%- set symbol = {'gt': '>', 'gte': '>=', 'lt': '<', 'lte': '<='}[op] -%}
        {{ return(beton.safe_to_double(text) ~ ' ' ~ symbol ~ ' ' ~ beton.number_literal(f['value']['value'])) }}
    {%- elif op == 'is_set' -%}
        {{ return(text ~ ' is not null') }}
    {%- elif op == 'is_not_set' -%}
        {{ return(text ~ ' is null') }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("property filter on '" ~ f['key'] ~ "': operator '" ~ op ~ "' is not supported") }}
    {%- endif -%}
{%- endmacro %}

{#- typed equality: numbers compare numerically, strings and booleans as text -#}
{% macro _equals_sql(text, typed) -%}
    {%- if typed['type'] == 'number' -%}
        {{ return(beton.safe_to_double(text) ~ ' = ' ~ beton.number_literal(typed['value'])) }}
    {%- elif typed['type'] in ('string', 'boolean') -%}
        {{ return(text ~ ' = ' ~ beton.string_literal(typed['value'] | string)) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error("property filter value type '" ~ typed['type'] ~ "' is not supported") }}
    {%- endif -%}
{%- endmacro %}
