{#- JSON properties are stored as text. Every engine difference in reading them lives here. -#}

{#- The text of a top-level key of a JSON object held as text, or null when the key is missing
    or its value is JSON null. Strings give their content; numbers and booleans their JSON text
    (5, 2.5, true); objects and arrays their JSON text. The key is taken literally. -#}
{% macro json_text(json_expr, key) -%}
    {{ return(adapter.dispatch('json_text', 'beton')(json_expr, key)) }}
{%- endmacro %}

{% macro default__json_text(json_expr, key) -%}
    {{ exceptions.raise_compiler_error("beton.json_text is not implemented for adapter '" ~ adapter.type() ~ "'") }}
{%- endmacro %}

{#- duckdb: a quoted JSONPath ($."key") so keys like "$current_url" or "plan.tier" stay single keys -#}
{% macro duckdb__json_text(json_expr, key) -%}
    json_extract_string({{ json_expr }}, {{ beton.string_literal(beton.duckdb_json_path(key)) }})
{%- endmacro %}

{% macro duckdb_json_path(key) -%}
    {{ return('$."' ~ key | replace('\\', '\\\\') | replace('"', '\\"') ~ '"') }}
{%- endmacro %}

{#- clickhouse: JSONExtractString gives '' for missing keys and for non-strings, so read the
    type first and take the raw text of numbers/booleans/objects -#}
{% macro clickhouse__json_text(json_expr, key) -%}
    {%- set k = beton.string_literal(key) -%}
    multiIf(
        JSONType({{ json_expr }}, {{ k }}) = 'String', toNullable(JSONExtractString({{ json_expr }}, {{ k }})),
        JSONType({{ json_expr }}, {{ k }}) in ('Null', 'Undefined'), cast(null, 'Nullable(String)'),
        toNullable(JSONExtractRaw({{ json_expr }}, {{ k }}))
    )
{%- endmacro %}


{#- The JSON text itself when it is valid JSON, else '{}' (bad rows never stop a build). One
    validation pass; a valid non-object (an array, a scalar) simply has no keys. -#}
{% macro json_object_or_empty(json_expr) -%}
    {{ return(adapter.dispatch('json_object_or_empty', 'beton')(json_expr)) }}
{%- endmacro %}

{% macro default__json_object_or_empty(json_expr) -%}
    {{ exceptions.raise_compiler_error("beton.json_object_or_empty is not implemented for adapter '" ~ adapter.type() ~ "'") }}
{%- endmacro %}

{% macro duckdb__json_object_or_empty(json_expr) -%}
    case when json_valid(cast({{ json_expr }} as varchar)) then cast({{ json_expr }} as varchar) else '{}' end
{%- endmacro %}

{% macro clickhouse__json_object_or_empty(json_expr) -%}
    if(isValidJSON(toString({{ json_expr }})), toString({{ json_expr }}), '{}')
{%- endmacro %}
