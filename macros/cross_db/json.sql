{#- JSON properties are stored as text. Every engine difference in reading them lives here. -#}

{#- The text of a top-level key of a JSON object held as text, or null when the key is missing
    or its value is JSON null. Strings give their content; booleans true/false; objects and
    arrays their JSON text; a number its canonical text (docs/rules.md, "Property values"): the
    shortest decimal that reads back as the same 64-bit float, without a trailing ".0", in
    plain notation from 1e-6 up to 1e21 and as <digits>e<exponent> beyond (5.0 -> 5, 1e2 -> 100,
    2.50 -> 2.5, 1e-7 -> 1e-7); integers keep their digits. Both engines write exactly that,
    except that DuckDB keeps ".0" on whole doubles, which is dropped here. The key is taken
    literally. -#}
{% macro json_text(json_expr, key) -%}
    {{ return(adapter.dispatch('json_text', 'beton')(json_expr, key)) }}
{%- endmacro %}

{% macro default__json_text(json_expr, key) -%}
    {{ exceptions.raise_compiler_error("beton.json_text is not implemented for adapter '" ~ adapter.type() ~ "'") }}
{%- endmacro %}

{#- duckdb: a quoted JSONPath ($."key") so keys like "$current_url" or "plan.tier" stay single keys;
    a double's ".0" dropped (the type is looked up only for text ending in ".0", so strings pay nothing) -#}
{% macro duckdb__json_text(json_expr, key) -%}
    {%- set path = beton.string_literal(beton.duckdb_json_path(key)) -%}
    {%- set text = 'json_extract_string(' ~ json_expr ~ ', ' ~ path ~ ')' -%}
    case
        when ends_with({{ text }}, '.0') and json_type({{ json_expr }}, {{ path }}) = 'DOUBLE'
            then substr({{ text }}, 1, length({{ text }}) - 2)
        else {{ text }}
    end
{%- endmacro %}

{% macro duckdb_json_path(key) -%}
    {{ return('$."' ~ key | replace('\\', '\\\\') | replace('"', '\\"') ~ '"') }}
{%- endmacro %}

{#- clickhouse: JSONExtractString gives '' for missing keys and for non-strings, so read the
    type first and take the raw text of numbers/booleans/objects (JSONExtractRaw already
    writes numbers in the canonical form) -#}
{% macro clickhouse__json_text(json_expr, key) -%}
    {%- set k = beton.string_literal(key) -%}
    multiIf(
        JSONType({{ json_expr }}, {{ k }}) = 'String', toNullable(JSONExtractString({{ json_expr }}, {{ k }})),
        JSONType({{ json_expr }}, {{ k }}) in ('Null', 'Undefined'), cast(null, 'Nullable(String)'),
        toNullable(JSONExtractRaw({{ json_expr }}, {{ k }}))
    )
{%- endmacro %}


{#- The JSON text itself when it is valid JSON, else '{}' (bad rows never stop a build; a null
    is '{}' too, and the result is never nullable). One validation pass; a valid non-object (an
    array, a scalar) simply has no keys. -#}
{% macro json_object_or_empty(json_expr) -%}
    {{ return(adapter.dispatch('json_object_or_empty', 'beton')(json_expr)) }}
{%- endmacro %}

{% macro default__json_object_or_empty(json_expr) -%}
    {{ exceptions.raise_compiler_error("beton.json_object_or_empty is not implemented for adapter '" ~ adapter.type() ~ "'") }}
{%- endmacro %}

{% macro duckdb__json_object_or_empty(json_expr) -%}
    case when json_valid(cast({{ json_expr }} as varchar)) then cast({{ json_expr }} as varchar) else '{}' end
{%- endmacro %}

{#- clickhouse: a Nullable(String) column (PostHog's own DDL allows it) made plain String first,
    or every JSONType/JSONExtract over it fails on the Nullable enum -#}
{% macro clickhouse__json_object_or_empty(json_expr) -%}
    if(isValidJSON(ifNull(toString({{ json_expr }}), '')), ifNull(toString({{ json_expr }}), ''), '{}')
{%- endmacro %}
