{#- Literals rendered from rule files. No text from a rule can change the structure of the SQL:
    every string goes through string_literal, every number through number_literal. -#}

{% macro string_literal(value) -%}
    {%- if value is not string -%}
        {{ exceptions.raise_compiler_error("beton.string_literal expects a string, got " ~ value) }}
    {%- endif -%}
    {{ return(adapter.dispatch('string_literal', 'beton')(value)) }}
{%- endmacro %}

{#- standard SQL: the only special character in '...' is the quote itself -#}
{% macro default__string_literal(value) -%}
    {{ return("'" ~ value | replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- clickhouse: backslash is an escape character inside string literals -#}
{% macro clickhouse__string_literal(value) -%}
    {{ return("'" ~ value | replace('\\', '\\\\') | replace("'", "\\'") ~ "'") }}
{%- endmacro %}


{% macro number_literal(value) -%}
    {%- if value is boolean or value is not number -%}
        {{ exceptions.raise_compiler_error("beton.number_literal expects a number, got " ~ value) }}
    {%- endif -%}
    {%- set text = value | string -%}
    {%- if text in ('nan', 'inf', '-inf') -%}
        {{ exceptions.raise_compiler_error("beton.number_literal expects a finite number, got " ~ text) }}
    {%- endif -%}
    {{ return('cast(' ~ text ~ ' as ' ~ beton.type_double() ~ ')') }}
{%- endmacro %}


{% macro timestamp_literal(text) -%}
    {{ return(adapter.dispatch('timestamp_literal', 'beton')(text)) }}
{%- endmacro %}

{% macro default__timestamp_literal(text) -%}
    {{ return('cast(' ~ beton.string_literal(text) ~ ' as ' ~ dbt.type_timestamp() ~ ')') }}
{%- endmacro %}

{#- clickhouse: microsecond precision and an explicit UTC zone, like the staged event times -#}
{% macro clickhouse__timestamp_literal(text) -%}
    {{ return("toDateTime64(" ~ beton.string_literal(text) ~ ", 6, 'UTC')") }}
{%- endmacro %}


{% macro date_literal(text) -%}
    {{ return(adapter.dispatch('date_literal', 'beton')(text)) }}
{%- endmacro %}

{% macro default__date_literal(text) -%}
    {{ return('cast(' ~ beton.string_literal(text) ~ ' as date)') }}
{%- endmacro %}

{#- clickhouse: Date32 so dates before 1970 stay representable -#}
{% macro clickhouse__date_literal(text) -%}
    {{ return('toDate32(' ~ beton.string_literal(text) ~ ')') }}
{%- endmacro %}
